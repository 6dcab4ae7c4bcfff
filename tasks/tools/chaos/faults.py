"""The faults a chaos run injects, on a seeded schedule: every kind once, then at random."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field

import psutil
import redis

from accounting import runtime
from accounting.services.queue import dispatcher_leader
from tasks.tools.chaos.servers import ChaosServices
from tasks.tools.worker_pool import WorkerPool, WorkerProcess

FAULTS = (
    "worker_kill",
    "dispatcher_kill",
    "redis_flush",
    "redis_restart",
    "postgres_restart",
    "pgbouncer_restart",
    "stale_redelivery",
)
#: Pool processes per worker, by queue.
CONCURRENCY = {"accounting.normal": 2, "accounting.high": 1}


@dataclass
class FaultInjector:
    services: ChaosServices
    pool: WorkerPool
    seed: int
    every: float
    #: Sends an older revision of an updated document again; what it sent, if anything.
    redeliver_stale: Callable[[], str | None]
    injected: Counter[str] = field(default_factory=Counter)
    #: Workers that exited on their own and were started again, as a supervisor would.
    crashed: list[str] = field(default_factory=list)
    #: (seconds since the start, fault, what exactly was hit)
    timeline: list[tuple[float, str, str]] = field(default_factory=list)
    #: Ends the supervision (after the run drained).
    stop: threading.Event = field(default_factory=threading.Event)
    _no_more_faults: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._started = time.monotonic()
        self._workers_lock = threading.Lock()

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(f for f in FAULTS if f != "pgbouncer_restart" or self.services.bouncer)

    def covered(self) -> bool:
        """Every kind of fault was injected at least once."""
        return all(self.injected[kind] for kind in self.kinds)

    def stop_faults(self) -> None:
        self._no_more_faults.set()

    def run(self) -> None:
        for kind in self._schedule():
            if self._no_more_faults.wait(self.every):
                return
            target = self.inject(kind)
            if target is not None:
                self.injected[kind] += 1
                self.timeline.append((time.monotonic() - self._started, kind, target))

    def supervise(self) -> None:
        """Start a worker again when it exits on its own, as systemd or Docker's restart
        policy would: Celery's worker can die of a broker connection lost twice in a row
        (kombu's restore of unacknowledged messages on a closed channel)."""
        while not self.stop.wait(0.5):
            with self._workers_lock:
                for worker in [w for w in self.pool.workers if w.process.poll() is not None]:
                    what = f"{worker.name} exited with {worker.process.returncode}, started again"
                    self.crashed.append(what)
                    self.timeline.append((time.monotonic() - self._started, "worker_crash", what))
                    self._replace(worker)

    def _schedule(self) -> Iterator[str]:
        first = list(self.kinds)
        self._rng.shuffle(first)
        yield from first
        while True:  # a kind that found nothing to hit yet goes first
            missing = [kind for kind in self.kinds if not self.injected[kind]]
            yield self._rng.choice(missing or self.kinds)

    def inject(self, kind: str) -> str | None:
        """Inject one fault; what it hit, or None when there was nothing to hit."""
        with self._workers_lock:
            return self._inject(kind)

    def _inject(self, kind: str) -> str | None:
        if kind == "worker_kill":
            return self._kill_worker()
        if kind == "dispatcher_kill":
            return self._kill_dispatcher()
        if kind == "redis_flush":
            redis.Redis.from_url(self.services.redis.url).flushall()
            return "FLUSHALL"
        if kind == "redis_restart":
            self.services.redis.restart()
            return "redis-server"
        if kind == "postgres_restart":
            self.services.restart_postgres()
            return "postgres"
        if kind == "stale_redelivery":
            try:
                return self.redeliver_stale()
            except Exception:  # Redis is down: this fault comes round again
                return None
        if kind == "pgbouncer_restart" and self.services.bouncer is not None:
            self.services.bouncer.restart()
            return "pgbouncer"
        return None

    def _kill_worker(self) -> str:
        """SIGKILL one pool process (Celery forks another) or a whole worker (we start a
        replacement, as a supervisor would)."""
        worker = self._rng.choice(self._alive())
        children = _children(worker)
        if children and self._rng.random() < 0.5:
            victim = self._rng.choice(children)
            with suppress(psutil.NoSuchProcess):
                victim.send_signal(signal.SIGKILL)
            return f"pool process {victim.pid} of {worker.name}"
        self._replace(worker)
        return worker.name

    def _kill_dispatcher(self) -> str | None:
        try:
            leader = dispatcher_leader(runtime.unit_of_work())
        except Exception:  # Postgres is restarting: try at the next fault
            return None
        worker = next((w for w in self._alive() if w.name == leader), None)
        if worker is None:
            return None
        self._replace(worker)
        return f"{worker.name} (leading dispatcher)"

    def _replace(self, worker: WorkerProcess) -> None:
        self.pool.kill(worker, signal.SIGKILL)
        self.pool.workers.remove(worker)
        self.pool.start(worker.queue, concurrency=CONCURRENCY[worker.queue])

    def _alive(self) -> list[WorkerProcess]:
        return [w for w in self.pool.workers if w.process.poll() is None]


def _children(worker: WorkerProcess) -> list[psutil.Process]:
    try:
        return list(psutil.Process(worker.process.pid).children())
    except psutil.NoSuchProcess:
        return []
