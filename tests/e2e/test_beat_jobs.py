"""The scheduled jobs run on a real worker, sent the way beat sends them (by name)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from accounting.services.documents import upsert_documents

from helpers import invoice

pytestmark = pytest.mark.timeout(120)


def test_every_scheduled_job_names_a_registered_task_and_expires_before_it_runs_again(
    celery_app: Any,
) -> None:
    celery_app.loader.import_default_modules()  # what a worker or beat does at start
    schedule = celery_app.conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} == {
        "accounting.reclaim_leases",
        "accounting.audit",
        "accounting.cleanup",
    }
    for entry in schedule.values():
        assert entry["task"] in celery_app.tasks
        assert entry["options"]["expires"] > 0


def test_the_audit_and_reclaim_jobs_run_on_a_worker_and_report(
    workers: Any, engine: Any, uow: Any, org: str, celery_app: Any
) -> None:
    workers.start("accounting.normal", concurrency=1, env={"ACCOUNTING_RUN_DISPATCHER": "false"})
    workers.wait_ready()
    upsert_documents(uow(), org, [invoice("inv-1")], max_documents=10)
    with engine.begin() as connection:
        connection.execute(text("UPDATE documents SET lease_until = now() - interval '1 hour'"))

    report = celery_app.send_task("accounting.audit").get(timeout=60)
    assert report["by_check"]["lease_expired_unreclaimed"] == 1
    assert report["by_check"]["pending_with_no_dispatcher"] == 1  # no dispatcher runs
    celery_app.send_task("accounting.reclaim_leases")  # ignores its result: see its effect
    cleaned = celery_app.send_task("accounting.cleanup").get(timeout=60)  # runs after it
    assert set(cleaned) == {"progress_streams", "jobs", "audit_runs", "result_keys_given_a_ttl"}
    report = celery_app.send_task("accounting.audit").get(timeout=60)
    assert report["by_check"]["lease_expired_unreclaimed"] == 0
