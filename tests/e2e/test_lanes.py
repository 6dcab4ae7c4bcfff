"""End to end on real workers: documents sent with .delay() get posted; recreates jump the queue."""

from __future__ import annotations

from typing import Any

import pytest

from accounting import demo_data
from accounting.services.queue import status

from helpers import active_entries, unbalanced_entries, wait_for

pytestmark = pytest.mark.timeout(180)


def start_both_lanes(workers: Any) -> Any:
    """One high worker and one normal worker, ready; returns the high one."""
    high = workers.start("accounting.high", concurrency=1)
    workers.start("accounting.normal", concurrency=1)
    workers.wait_ready()
    return high


def test_documents_sent_with_upsert_delay_end_posted(
    workers: Any, engine: Any, uow: Any, org: str
) -> None:
    from tasks.documents import upsert_documents

    workers.start("accounting.normal", concurrency=2)
    workers.wait_ready()
    docs = list(demo_data.documents(600, prefix="sync"))
    results = [upsert_documents.delay(org, docs[i : i + 200]) for i in range(0, 600, 200)]
    assert sum(len(r.get(timeout=60)["changed"]) for r in results) == 600
    wait_for(lambda: status(uow(), org)["posted"] == 600, 120, "600 posted", workers)
    assert status(uow(), org)["dead"] == 0
    assert unbalanced_entries(engine) == 0


def test_a_recreate_is_posted_by_the_high_pool_while_the_normal_pool_is_busy(
    workers: Any, engine: Any, uow: Any, org: str
) -> None:
    from tasks.documents import recreate, upsert_documents

    high = start_both_lanes(workers)
    upsert_documents.delay(org, list(demo_data.documents(1, prefix="mine"))).get(timeout=30)
    wait_for(lambda: status(uow(), org)["posted"] == 1, 60, "first document posted", workers)

    backlog = list(demo_data.documents(4000, prefix="bulk"))
    for i in range(0, len(backlog), 1000):
        upsert_documents.delay(org, backlog[i : i + 1000])
    wait_for(lambda: status(uow(), org)["posted"] > 1, 60, "the backlog draining", workers)

    job = recreate.delay(org, ["mine-0000000"], requested_by="user@example.com")
    outcome = job.get(timeout=30)
    still_pending = status(uow(), org)["pending_normal"]

    assert outcome["job_id"] == job.id
    assert outcome["posted"] == ["mine-0000000"]
    assert job.worker == high.name  # the high pool ran it, not the busy normal pool
    assert active_entries(engine, org, "mine-0000000") == [2]
    assert still_pending > 0  # the normal backlog was still waiting when the recreate finished


def test_bad_documents_sent_through_the_task_are_reported_and_good_ones_posted(
    workers: Any, uow: Any, org: str
) -> None:
    from tasks.documents import upsert_documents

    workers.start("accounting.normal", concurrency=1)
    workers.wait_ready()
    good = next(demo_data.documents(1, prefix="good"))
    bad = {**good, "id": "bad-1", "currency": "XYZ"}
    outcome = upsert_documents.delay(org, [good, bad]).get(timeout=30)
    assert outcome["changed"] == [good["id"]]
    assert [(r["document_id"], r["field"]) for r in outcome["rejected"]] == [("bad-1", "currency")]
    wait_for(lambda: status(uow(), org)["posted"] == 1, 60, "the good one posted", workers)


def test_a_task_for_an_unknown_organization_fails_at_once_naming_it(workers: Any, org: str) -> None:
    from tasks.documents import upsert_documents

    workers.start("accounting.normal", concurrency=1)
    workers.wait_ready()
    result = upsert_documents.delay("ghost", [])
    with pytest.raises(Exception, match="ghost"):
        result.get(timeout=30)
    assert result.state == "FAILURE"


def test_a_large_recreate_is_dispatched_on_the_high_lane_and_ends_at_the_new_versions(
    workers: Any, engine: Any, uow: Any, org: str
) -> None:
    from tasks.documents import recreate, upsert_documents

    high = start_both_lanes(workers)
    docs = list(demo_data.documents(30, prefix="big"))
    upsert_documents.delay(org, docs).get(timeout=30)
    wait_for(lambda: status(uow(), org)["posted"] == 30, 60, "30 posted", workers)

    ids = [d["id"] for d in docs[:15]]
    outcome = recreate.delay(org, ids).get(timeout=30)
    assert outcome["posted"] == [] and outcome["queued"] == 15  # too big for the fast path
    wait_for(
        lambda: all(active_entries(engine, org, i) == [2] for i in ids),
        60,
        "every recreated document posted at version 2",
        workers,
    )
    assert "accounting.post_batch" in high.log_path.read_text()  # the high pool posted them
