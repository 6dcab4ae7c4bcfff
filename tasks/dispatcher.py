"""Worker bootstep: every normal-lane worker runs a dispatcher thread; one leads at a time."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from celery import bootsteps

from accounting import runtime
from accounting.config import get_settings
from accounting.ratelimit import RateLimiter
from accounting.scheduler import Dispatcher
from celeryconfig import NORMAL_QUEUE


class DispatcherStep(bootsteps.StartStopStep):  # type: ignore[misc]
    # After the pool: the prefork children are already forked and never inherit the thread.
    requires: ClassVar[set[str]] = {"celery.worker.components:Pool"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, worker: Any) -> None:
        settings = get_settings()
        if not settings.run_dispatcher or NORMAL_QUEUE not in worker.app.amqp.queues.consume_from:
            return
        from tasks.posting import publish_batch

        dispatcher = Dispatcher(
            runtime.engine(settings),
            publish_batch,
            runtime.wakeup(settings),
            settings,
            RateLimiter(runtime.redis_client(settings)),
            holder=f"{worker.hostname}",
        )
        self._thread = threading.Thread(
            target=dispatcher.run_forever, args=(self._stop,), name="dispatcher", daemon=True
        )
        self._thread.start()

    def stop(self, worker: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
