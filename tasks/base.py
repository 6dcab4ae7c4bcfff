"""What every accounting task shares: retry transient errors with backoff, fail fast otherwise."""

from __future__ import annotations

from typing import Any

from celery import Task

from accounting.errors import PermanentError, TransientError
from tasks import telemetry


class AccountingTask(Task):  # type: ignore[misc]
    autoretry_for = (TransientError,)
    dont_autoretry_for = (PermanentError,)
    retry_backoff = 1
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 5
    acks_late = True
    reject_on_worker_lost = True

    def on_retry(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        telemetry.record_retry(self.name)
