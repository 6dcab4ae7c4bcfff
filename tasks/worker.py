"""Worker wiring: every normal-lane worker runs a dispatcher thread (one leads at a time); each
pool process connects before its first task; logs are configured and errors reported."""

from __future__ import annotations

import logging
import threading
from functools import partial
from typing import Any, ClassVar

from celery import Celery, bootsteps
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    celeryd_init,
    worker_process_init,
)

from accounting import runtime
from accounting.config import get_settings
from accounting.domain.lanes import Lane
from tasks import client, logs

log = logging.getLogger(__name__)


class DispatcherStep(bootsteps.StartStopStep):  # type: ignore[misc]
    # After the pool: the prefork children are already forked and never inherit the thread.
    requires: ClassVar[set[str]] = {"celery.worker.components:Pool"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, worker: Any) -> None:
        consumes_normal = Lane.NORMAL.queue in worker.app.amqp.queues.consume_from
        if not get_settings().run_dispatcher or not consumes_normal:
            return
        dispatcher = runtime.dispatcher(partial(client.publish_batch, worker.app), worker.hostname)
        self._thread = threading.Thread(
            target=dispatcher.run_forever, args=(self._stop,), name="dispatcher", daemon=True
        )
        self._thread.start()

    def stop(self, worker: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def install(app: Celery) -> None:
    """Add the dispatcher to ``app``'s workers."""
    app.steps["worker"].add(DispatcherStep)


@celeryd_init.connect
@beat_init.connect
def _report_errors(**_: Any) -> None:
    """Sentry is set up when a worker or beat starts, never when an application imports the
    tasks."""
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
