"""What every accounting task shares: retry transient errors with backoff, fail fast otherwise."""

from __future__ import annotations

import unicodedata
from typing import Any

from celery import Task

from accounting.errors import PermanentError, TransientError
from tasks import telemetry

#: Version of the task payloads (see tasks.payloads); bump it when an argument changes meaning.
PAYLOAD_SCHEMA = 2


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


def require_text(name: str, value: Any, max_length: int = 128) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise PermanentError(
            f"{name}: must be a non-empty string of at most {max_length} characters"
        )
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs") for char in value):
        raise PermanentError(f"{name}: must not contain control or invisible characters")
    return value


def require_list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise PermanentError(f"{name}: must be a list, got {type(value).__name__}")
    return value
