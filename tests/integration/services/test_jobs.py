"""Jobs on real Postgres: what each waits for, how a posting moves it on, its place."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from accounting.errors import JobNotCancellable, UnknownJob
from accounting.services import jobs, posting
from accounting.services.documents import upsert_documents
from accounting.services.recreate import request_recreate

from helpers import invoice, versions


def test_a_recreate_job_counts_its_documents_as_they_post(uow: Any, org: str) -> None:
    upsert_documents(uow(), org, [invoice(f"inv-{n}") for n in range(3)], max_documents=9)
    posting.post_documents(uow(), org, {f"inv-{n}": 1 for n in range(3)})
    requested = request_recreate(
        uow(),
        org,
        ["inv-0", "inv-1", "inv-2"],
        hold_seconds=None,
        job_id="job-1",
        requested_by="jane",
    )
    progress = jobs.job_progress(uow(), "job-1")
    assert progress is not None
    assert (progress.kind, progress.lane, progress.total, progress.posted) == (
        "recreate",
        "high",
        3,
        0,
    )

    first = posting.post_documents(uow(), org, {"inv-0": requested.versions["inv-0"]})
    assert first.jobs == {"job-1": {}}
    moved = jobs.progress_of(uow(), ["job-1"])["job-1"]
    assert (moved.posted, moved.failed, moved.pending, moved.done) == (1, 0, 2, False)
    posting.post_documents(uow(), org, {i: requested.versions[i] for i in ("inv-1", "inv-2")})
    assert jobs.progress_of(uow(), ["job-1"])["job-1"].done


def test_a_sync_job_waits_for_the_versions_it_stored_and_names_what_failed(
    engine: Engine, uow: Any, org: str
) -> None:
    result = upsert_documents(
        uow(), org, [invoice("inv-1"), invoice("bad-1")], max_documents=9, job_id="sync-1"
    )
    assert sorted(result.changed) == ["bad-1", "inv-1"]
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE documents SET facts = jsonb_set(facts, '{type}', '\"mystery\"')"
                " WHERE id = 'bad-1'"
            )
        )
    outcome = posting.post_documents(uow(), org, {"inv-1": 1, "bad-1": 1})
    assert list(outcome.jobs["sync-1"]) == ["bad-1"]  # its failure, with the reason
    progress = jobs.progress_of(uow(), ["sync-1"])["sync-1"]
    assert (progress.posted, progress.failed, progress.done) == (1, 1, True)


def test_a_newer_version_posted_settles_a_job_waiting_for_an_older_one(uow: Any, org: str) -> None:
    upsert_documents(uow(), org, [invoice("inv-1")], max_documents=9, job_id="old")
    upsert_documents(uow(), org, [invoice("inv-1", "5.00")], max_documents=9, job_id="new")
    outcome = posting.post_documents(uow(), org, {"inv-1": 2})
    assert set(outcome.jobs) == {"old", "new"}
    assert all(p.done for p in jobs.progress_of(uow(), ["old", "new"]).values())


def test_a_job_seen_twice_keeps_what_it_first_recorded(uow: Any, org: str) -> None:
    upsert_documents(uow(), org, [invoice("inv-1")], max_documents=9, job_id="twice")
    upsert_documents(uow(), org, [invoice("inv-1")], max_documents=9, job_id="twice")
    progress = jobs.job_progress(uow(), "twice")
    assert progress is not None and progress.total == 1


def test_a_jobs_place_counts_the_documents_of_its_lane_due_before_it(uow: Any, org: str) -> None:
    upsert_documents(uow(), org, [invoice(f"a-{n}") for n in range(4)], max_documents=9)
    upsert_documents(uow(), org, [invoice("b-1")], max_documents=9, job_id="late")
    assert jobs.documents_ahead(uow(), "late") == 4
    assert jobs.documents_ahead(uow(), "unknown") is None
    assert jobs.estimated_seconds(4, 1, 2.5) == 2.0
    assert jobs.estimated_seconds(4, 1, 0.0) is None


def test_cancelling_a_recreate_takes_back_what_has_not_started_and_never_half_a_document(
    engine: Engine, uow: Any, org: str
) -> None:
    docs = [invoice(f"inv-{n}") for n in range(3)]
    upsert_documents(uow(), org, docs, max_documents=9)
    posting.post_documents(uow(), org, {f"inv-{n}": 1 for n in range(3)})
    ids = ["inv-0", "inv-1", "inv-2"]
    request_recreate(uow(), org, ids, hold_seconds=None, job_id="r-1")
    with engine.begin() as connection:  # inv-0 is in flight: a worker has it
        connection.execute(
            text(
                "UPDATE documents SET lease_until = now() + interval '1 minute' WHERE id = 'inv-0'"
            )
        )
    taken_back, progress = jobs.cancel_job(uow(), org, "r-1")
    assert taken_back == 2
    assert (progress.cancelled, progress.pending, progress.done) == (2, 1, False)
    assert versions(engine, org, "inv-1") == (1, 1, 0)  # back where it was, not pending
    assert versions(engine, org, "inv-0") == (2, 1, 0)  # left to finish
    posting.post_documents(uow(), org, {"inv-0": 2})
    final = jobs.progress_of(uow(), ["r-1"])["r-1"]
    assert (final.posted, final.cancelled, final.done) == (1, 2, True)
    assert jobs.cancel_job(uow(), org, "r-1")[0] == 0  # nothing left to take back


def test_a_cancelled_recreate_of_a_document_not_yet_posted_leaves_it_pending(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert_documents(uow(), org, [invoice("inv-1")], max_documents=9)
    request_recreate(uow(), org, ["inv-1"], hold_seconds=None, job_id="r-2")
    assert jobs.cancel_job(uow(), org, "r-2")[0] == 1
    assert versions(engine, org, "inv-1") == (1, 0, 0)  # the stored content still to post


def test_a_sync_or_anothers_job_cannot_be_cancelled(uow: Any, org: str, make_org: Any) -> None:
    upsert_documents(uow(), org, [invoice("inv-1")], max_documents=9, job_id="s-1")
    with pytest.raises(JobNotCancellable):
        jobs.cancel_job(uow(), org, "s-1")
    other = make_org("globex")
    with pytest.raises(UnknownJob):
        jobs.cancel_job(uow(), other, "s-1")


def test_accounting_cancel_takes_the_job_back_and_tells_its_followers(
    uow: Any, org: str, redis_client: Any
) -> None:
    from typer.testing import CliRunner

    from accounting import runtime
    from accounting.volatile.progress import ProgressStream
    from tasks.cli import cli

    upsert_documents(uow(), org, [invoice("inv-1")], max_documents=9)
    posting.post_documents(uow(), org, {"inv-1": 1})
    request_recreate(uow(), org, ["inv-1"], hold_seconds=None, job_id="r-3")
    result = CliRunner().invoke(cli, ["cancel", org, "r-3"])
    assert result.exit_code == 0, result.output
    assert "1 documents taken back" in result.output
    events = ProgressStream(runtime.redis_client(), 60).read("r-3")
    assert [e.type for e in events] == ["cancelled", "progress", "done"]
    assert events[-1].data == {"posted": 0, "failed": 0, "total": 1, "cancelled": 1}
