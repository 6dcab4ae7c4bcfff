"""Worker wiring: every normal-lane worker runs a dispatcher thread (one leads at a time); every
worker announces its consumer slots; each pool process connects before its first task; logs
are configured and errors reported."""

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
from accounting.volatile.capacity import TTL_SECONDS
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


class SlotsHeartbeat(bootsteps.StartStopStep):  # type: ignore[misc]
    """Announce this worker's consumer slots (its concurrency) for each lane it consumes, again
    every third of the announcement's life, so the dispatcher's window follows the workers
    that run (accounting.volatile.capacity); withdrawn at a warm shutdown."""

    requires: ClassVar[set[str]] = {"celery.worker.components:Pool"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lanes: list[Lane] = []

    def start(self, worker: Any) -> None:
        consumed = worker.app.amqp.queues.consume_from or {}
        self._lanes = [lane for lane in Lane if lane.queue in consumed]
        if not self._lanes:
            return
        self._thread = threading.Thread(
            target=self._beat,
            args=(worker.hostname, int(worker.concurrency)),
            name="slots-heartbeat",
            daemon=True,
        )
        self._thread.start()

    def _beat(self, hostname: str, slots: int) -> None:
        announcements = runtime.worker_slots()
        while True:
            for lane in self._lanes:
                try:
                    announcements.announce(lane, hostname, slots)
                except Exception as exc:  # Redis down: the window keeps its floor meanwhile
                    log.warning("worker slots not announced: %s", exc)
            if self._stop.wait(TTL_SECONDS / 3):
                return

    def stop(self, worker: Any) -> None:
        self._stop.set()
        if self._thread is None:
            return
        self._thread.join(timeout=5)
        for lane in self._lanes:
            try:
                runtime.worker_slots().withdraw(lane, worker.hostname)
            except Exception as exc:  # it expires on its own
                log.warning("worker slots not withdrawn: %s", exc)


class DatabaseGate(bootsteps.StartStopStep):  # type: ignore[misc]
    """The worker takes messages only while Postgres answers at the schema revision this code
    expects. Started before ``accounting migrate``, or while Postgres is down, failing over or
    behind a restarting PgBouncer, it leaves every message in the broker (none is taken and
    retried into nothing), says why in one line, and takes them again once it can."""

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        super().__init__(consumer, **kwargs)
        self._stop = threading.Event()
        self._open = True
        self._queues: list[str] = []

    def start(self, consumer: Any) -> None:
        self._queues = [queue.name for queue in consumer.task_consumer.queues]
        problem = database_problem()
        if problem is not None:
            self._close(consumer, problem)
        watcher = threading.Thread(
            target=self._watch, args=(consumer,), name="database-gate", daemon=True
        )
        watcher.start()

    def stop(self, consumer: Any) -> None:
        self._stop.set()

    def _watch(self, consumer: Any) -> None:
        while not self._stop.wait(get_settings().database_probe_seconds):
            problem = database_problem()
            if problem is not None and self._open:
                consumer.call_soon(self._close, consumer, problem)
            elif problem is None and not self._open:
                consumer.call_soon(self._reopen, consumer)

    def _close(self, consumer: Any, problem: str) -> None:
        if self._open:
            self._open = False
            for queue in self._queues:
                consumer.cancel_task_queue(queue)
            log.error("not taking messages from %s: %s", ", ".join(self._queues), problem)

    def _reopen(self, consumer: Any) -> None:
        if not self._open:
            self._open = True
            for queue in self._queues:
                consumer.add_task_queue(queue)
            log.info("Postgres answers at the expected schema: taking messages again")


def database_problem() -> str | None:
    """Why this worker cannot apply messages now, or None."""
    try:
        state = runtime.schema_state()
    except Exception as exc:
        return f"Postgres is unreachable ({str(exc).splitlines()[0][:200]})"
    return None if state.ready else str(state)


def install(app: Celery) -> None:
    """Add the dispatcher, the slots heartbeat and the database gate to ``app``'s workers."""
    app.steps["worker"].add(DispatcherStep)
    app.steps["worker"].add(SlotsHeartbeat)
    app.steps["consumer"].add(DatabaseGate)


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
