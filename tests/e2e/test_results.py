"""What the result backend keeps of a task: who ran it, its retries and queue, its result, and
never its arguments (security review M4: every document of every sync, for 24 hours)."""

from __future__ import annotations

import json
from typing import Any

import redis

from helpers import invoice


def test_a_result_names_its_worker_and_queue_but_keeps_no_argument(
    workers: Any, org: str, redis_client: redis.Redis
) -> None:
    from tasks.documents import upsert_documents

    worker = workers.start("accounting.normal", env={"ACCOUNTING_RUN_DISPATCHER": "false"})
    workers.wait_ready()
    secret = {**invoice("inv-secret", unit_price="12345.67"), "currency": "EUR"}
    result = upsert_documents.delay(org, [secret])
    assert result.get(timeout=60)["changed"] == ["inv-secret"]
    meta = json.loads(redis_client.get(f"celery-task-meta-{result.id}") or b"{}")
    assert (meta["status"], meta["worker"], meta["queue"]) == (
        "SUCCESS",
        worker.name,
        "accounting.normal",
    )
    assert "args" not in meta and "kwargs" not in meta
    assert "12345.67" not in json.dumps(meta)
