"""Scheduled jobs (celery beat, see celeryconfig.beat_schedule): lease reclaim, the nightly
audit, and the cleanup of what expires."""

from __future__ import annotations

import logging
from typing import Any

from accounting import runtime
from accounting.config import get_settings
from accounting.services import audit, maintenance
from tasks.app import app
from tasks.base import AccountingTask

log = logging.getLogger(__name__)

#: Celery's Redis result backend: one key per task result.
RESULT_KEYS = "celery-task-meta-*"


@app.task(name="accounting.reclaim_leases", base=AccountingTask, ignore_result=True)
def reclaim_leases() -> dict[str, Any]:
    reclaimed = maintenance.reclaim_leases(runtime.unit_of_work(), get_settings())
    if reclaimed.buried or reclaimed.released:
        log.info("reclaimed leases: %s", reclaimed.as_dict())
    return reclaimed.as_dict()


# An audit reads every entry: allow it far longer than a batch.
@app.task(name="accounting.audit", base=AccountingTask, soft_time_limit=3600, time_limit=3700)
def run_audit(org_id: str | None = None) -> dict[str, Any]:
    report = audit.run_audit(runtime.unit_of_work(), org_id)
    if report.findings:
        log.error("audit run %d: %d findings", report.run_id, report.findings)
    by_check = {result.check: result.count for result in report.results}
    return {"run_id": report.run_id, "findings": report.findings, "by_check": by_check}


@app.task(name="accounting.cleanup", base=AccountingTask)
def clean_up() -> dict[str, Any]:
    cleaned = maintenance.clean_up(
        runtime.unit_of_work(),
        runtime.redis_client(),
        get_settings(),
        result_key_pattern=RESULT_KEYS,
        result_ttl_seconds=int(app.conf.result_expires),  # seconds in celeryconfig
    )
    log.info("cleanup: %s", cleaned.as_dict())
    return cleaned.as_dict()
