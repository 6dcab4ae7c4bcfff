"""Structured logs: one JSON object per line, with the task, organization, job and document a
line is about (``ACCOUNTING_LOG_FORMAT=json``), and optional error reporting to Sentry."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from celery._state import get_current_task

from accounting.config import Settings

#: Context a log call may pass in ``extra=``; the running task fills in what it knows.
CONTEXT = ("org_id", "job_id", "document_id")
#: Tasks whose id is the id of the job a user follows.
JOB_TASKS = ("accounting.recreate", "accounting.upsert_documents")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        line |= _task_context()
        line |= {k: v for k, v in vars(record).items() if k not in _STANDARD and v is not None}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def _task_context() -> dict[str, Any]:
    task = get_current_task()
    if task is None or task.request.id is None:
        return {}
    context: dict[str, Any] = {"task_id": task.request.id, "task_name": task.name}
    args = task.request.args or ()
    if task.name.startswith("accounting.") and args and isinstance(args[0], str):
        context["org_id"] = args[0]
    if task.name in JOB_TASKS:
        context["job_id"] = task.request.id
    return context


def use_json_logs(logger: logging.Logger) -> None:
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())


def configure(settings: Settings, logger: logging.Logger | None = None) -> None:
    """Apply ``ACCOUNTING_LOG_FORMAT`` to a logger's handlers (the root one by default)."""
    if settings.log_format == "json":
        use_json_logs(logger or logging.getLogger())


def report_errors(settings: Settings) -> bool:
    """Send errors, with the task they happened in, to Sentry when a DSN is configured."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        integrations=[CeleryIntegration()],
        traces_sample_rate=0.0,
    )
    return True
