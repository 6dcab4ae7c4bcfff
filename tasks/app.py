"""The Celery application: ``celery -A tasks.app:app worker -Q accounting.high`` (or normal)."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, worker_process_init

from accounting import runtime
from accounting.config import get_settings
from tasks import logs
from tasks.dispatcher import DispatcherStep

log = logging.getLogger(__name__)

app = Celery(
    "accounting",
    include=["tasks.documents", "tasks.posting", "tasks.baseline", "tasks.maintenance"],
)
app.config_from_object("celeryconfig")
app.steps["worker"].add(DispatcherStep)
logs.report_errors(get_settings())


@after_setup_logger.connect
@after_setup_task_logger.connect
def _structured_logs(logger: logging.Logger, **_: Any) -> None:
    logs.configure(get_settings(), logger)


@worker_process_init.connect
def _open_connections(**_: Any) -> None:
    """Connect each pool process before its first task, so a user's first recreate does not
    pay for connection set-up."""
    try:
        runtime.engine().connect().close()
        runtime.redis_client().ping()
    except Exception as exc:  # the first task will retry properly; this is only a warm-up
        log.warning("could not pre-connect: %s", exc)
