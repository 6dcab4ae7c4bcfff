"""A job's events on real Postgres and Redis: the documents a sync rejected, told once however
often the sync is repeated, and the ``refused`` of a public task that failed before its job
was recorded (called through Celery's own ``apply``, so the task's hooks run)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from accounting import runtime
from accounting.services import jobs
from accounting.services.documents import upsert_documents
from accounting.services.recreate import request_recreate
from accounting.store.uow import UnitOfWork
from accounting.volatile.progress import Event, ProgressStream

from helpers import invoice


@pytest.fixture
def announcing(engine: Engine, redis_client: Any) -> Any:
    """Units of work whose commits reach the jobs' streams, as the workers' do."""
    return lambda: UnitOfWork(engine, runtime.effects())


def events(job_id: str) -> list[Event]:
    return ProgressStream(runtime.redis_client(), 60).read(job_id)


def test_a_sync_tells_its_followers_each_document_it_rejected(announcing: Any, org: str) -> None:
    bad_currency = {**invoice("inv-2"), "currency": "EURO"}
    float_price = {**invoice("inv-3"), "lines": [{"quantity": "1", "unit_price": 9.5}]}
    docs = [invoice("inv-1"), bad_currency, float_price]
    upsert_documents(announcing(), org, docs, max_documents=9, job_id="sync-r")
    seen = events("sync-r")
    assert [e.type for e in seen] == ["accepted", "rejected", "rejected", "queued"]
    assert seen[0].data == {
        "job_id": "sync-r",
        "org_id": org,
        "kind": "sync",
        "total": 1,
        "rejected": 2,
    }
    assert [(e.data["document_id"], e.data["field"]) for e in seen[1:3]] == [
        ("inv-2", "currency"),
        ("inv-3", "lines.0.unit_price"),
    ]
    assert "float" in seen[2].data["message"]


def test_a_sync_of_only_bad_documents_is_done_at_once_after_its_rejections(
    announcing: Any, org: str
) -> None:
    docs = [{**invoice(f"bad-{n}"), "currency": "EURO"} for n in range(103)]
    upsert_documents(announcing(), org, docs, max_documents=200, job_id="all-bad")
    seen = events("all-bad")
    assert [e.type for e in seen] == ["accepted", *["rejected"] * 101, "done"]
    assert seen[0].data["rejected"] == 103
    assert seen[-2].data["more"] == 3


def test_a_sync_repeated_under_its_job_id_publishes_nothing_new(announcing: Any, org: str) -> None:
    docs = [invoice("inv-1"), {**invoice("inv-2"), "currency": "EURO"}]
    upsert_documents(announcing(), org, docs, max_documents=9, job_id="again")
    first = events("again")
    assert [e.type for e in first] == ["accepted", "rejected", "queued"]
    upsert_documents(announcing(), org, docs, max_documents=9, job_id="again")
    assert events("again") == first


def test_a_recreate_repeated_under_its_job_id_publishes_nothing_new(
    announcing: Any, org: str
) -> None:
    upsert_documents(announcing(), org, [invoice("inv-1")], max_documents=9)
    for _ in range(2):
        request_recreate(announcing(), org, ["inv-1", "ghost"], hold_seconds=None, job_id="r-again")
    seen = events("r-again")
    assert [e.type for e in seen] == ["accepted", "rejected", "queued"]
    assert (seen[0].data["rejected"], seen[1].data["document_id"]) == (1, "ghost")


def test_an_upsert_for_an_unknown_organization_is_refused_in_its_jobs_stream(
    announcing: Any, org: str
) -> None:
    from tasks.documents import upsert_documents as task

    result = task.apply(args=["nobody", [invoice("inv-1")]], task_id="job-nobody")
    assert result.state == "FAILURE"
    (refused,) = events("job-nobody")
    assert refused.type == "refused"
    assert refused.data == {
        "org_id": "nobody",
        "error": "UnknownOrganization",
        "message": "unknown organization 'nobody'",
    }


def test_a_payload_of_a_schema_the_worker_does_not_take_is_refused_in_its_jobs_stream(
    announcing: Any, org: str
) -> None:
    from tasks.documents import recreate
    from tasks.documents import upsert_documents as task

    task.apply(args=[org, [invoice("inv-1")]], kwargs={"schema": 99}, task_id="job-schema")
    (refused,) = events("job-schema")
    assert (refused.type, refused.data["org_id"], refused.data["error"]) == (
        "refused",
        org,
        "UnsupportedPayload",
    )
    assert "schema" in refused.data["message"]
    recreate.apply(args=[{"not": "an id"}, ["inv-1"]], task_id="job-bad-org")
    (refused,) = events("job-bad-org")
    assert (refused.type, refused.data["org_id"]) == ("refused", None)
    assert "org_id" in refused.data["message"]


def test_a_job_recorded_before_its_task_failed_is_not_refused(announcing: Any, org: str) -> None:
    upsert_documents(announcing(), org, [invoice("inv-1")], max_documents=9, job_id="recorded")
    before = events("recorded")
    stream = runtime.progress_stream()
    error = RuntimeError("late")
    assert not jobs.refuse(announcing(), stream, "recorded", org_id=org, error=error)
    assert events("recorded") == before
    assert jobs.refuse(announcing(), stream, "never", org_id=org, error=error)
    assert not jobs.refuse(announcing(), stream, "never", org_id=org, error=error)  # once
    assert [e.type for e in events("never")] == ["refused"]
    assert jobs.job_owner(announcing(), stream, "never") == org
    assert jobs.job_owner(announcing(), stream, "recorded") == org
    assert jobs.job_owner(announcing(), stream, "unheard-of") is None
