"""A job's progress, published by real workers: in order, from accepted to done."""

from __future__ import annotations

from typing import Any

import pytest

from accounting import demo_data, runtime
from accounting.config import get_settings
from accounting.services import documents as documents_service
from accounting.services import posting
from accounting.volatile.progress import Event, ProgressStream

from helpers import wait_for

pytestmark = pytest.mark.timeout(180)


def events(job_id: str) -> list[Event]:
    return ProgressStream(runtime.redis_client(), 60).read(job_id)


def finished(job_id: str) -> bool:
    return any(event.type == "done" for event in events(job_id))


def test_a_small_recreate_goes_from_accepted_to_done_on_the_fast_path(
    workers: Any, uow: Any, org: str
) -> None:
    from tasks.documents import recreate

    documents_service.upsert_documents(
        uow(), org, list(demo_data.documents(3, prefix="d")), max_documents=9
    )
    posting.post_documents(uow(), org, {demo_data.document_id("d", n): 1 for n in range(3)})
    workers.start("accounting.high", concurrency=1)
    workers.wait_ready()
    ids = [demo_data.document_id("d", n) for n in range(3)]
    job = recreate.delay(org, ids, "jane")
    job.get(timeout=30)
    seen = events(job.id)
    assert [e.type for e in seen] == ["accepted", "progress", "done"]
    assert seen[0].data == {
        "job_id": job.id,
        "org_id": org,
        "kind": "recreate",
        "total": 3,
        "rejected": 0,
    }
    assert seen[-1].data == {"posted": 3, "failed": 0, "total": 3}


def test_a_sync_sent_with_delay_is_followed_to_done_through_the_dispatcher(
    workers: Any, uow: Any, org: str
) -> None:
    from tasks.documents import upsert_documents

    workers.start("accounting.normal", concurrency=2, env={"ACCOUNTING_BATCH_SIZE": "40"})
    workers.wait_ready()
    job = upsert_documents.delay(org, list(demo_data.documents(400, prefix="s")))
    assert job.get(timeout=60)["job_id"] == job.id
    wait_for(lambda: finished(job.id), 120, "the sync's done event", workers)
    seen = events(job.id)
    assert seen[0].type == "accepted" and seen[0].data["total"] == 400
    assert seen[-1].type == "done" and seen[-1].data == {"posted": 400, "failed": 0, "total": 400}
    counts = [e.data["posted"] for e in seen if e.type == "progress"]
    # Counts only grow (a batch that read fewer and published late is left out), done once.
    assert counts == sorted(set(counts)) and counts[-1] == 400 and len(counts) > 1
    assert [e.type for e in seen].count("done") == 1
    assert get_settings().progress_retention_seconds > 0
