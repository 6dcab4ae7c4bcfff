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
from accounting.errors import TransientError
from accounting.services.queue import dispatcher_leader
from tasks.tools.chaos.hostile import HostileTenant
from tasks.tools.chaos.servers import ChaosServices
from tasks.tools.worker_pool import WorkerPool, WorkerProcess

FAULTS = (
    "worker_kill",
    "dispatcher_kill",
    "redis_flush",
    "redis_restart",
    "redis_outage",
    "postgres_restart",
    "postgres_outage",
    "pgbouncer_restart",
    "pgbouncer_outage",
    "stale_redelivery",
    "high_lane_flood",
    "oversized_message",
    "poison_message",
)
#: The faults that need PgBouncer.
BOUNCER_FAULTS = ("pgbouncer_restart", "pgbouncer_outage")
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
    hostile: HostileTenant
    #: How long Redis is down in an outage; Postgres and PgBouncer 1 to 1.5 times as long.
    outage: float = 60.0
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
        return tuple(f for f in FAULTS if f not in BOUNCER_FAULTS or self.services.bouncer)

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
        """Inject one fault; what it hit, or None when there was nothing to hit. A fault that
        needs a service the last one took down (the hostile tenant reads its documents while
        PgBouncer still refuses logins) comes round again later."""
        with self._workers_lock:
            try:
                return self._inject(kind)
            except TransientError as exc:
                self.timeline.append(
                    (time.monotonic() - self._started, "postponed", f"{kind}: {exc}")
                )
                return None

    def _inject(self, kind: str) -> str | None:
        services, hostile = self.services, self.hostile
        simple: dict[str, Callable[[], str | None]] = {
            "worker_kill": self._kill_worker,
            "dispatcher_kill": self._kill_dispatcher,
            "redis_flush": self._flush_redis,
            "redis_restart": lambda: _did(services.redis.restart, "redis-server"),
            "redis_outage": lambda: self._outage(
                "redis", services.redis.kill, services.redis.start
            ),
            "postgres_restart": lambda: _did(services.restart_postgres, "postgres"),
            "postgres_outage": lambda: self._outage(
                "postgres", services.stop_postgres, services.start_postgres
            ),
            "stale_redelivery": self._redeliver_stale,
            "high_lane_flood": hostile.flood,
            "oversized_message": hostile.oversized,
            "poison_message": hostile.poison,
        }
        if kind in simple:
            return simple[kind]()
        bouncer = services.bouncer
        if bouncer is None:
            return None
        if kind == "pgbouncer_restart":
            return _did(bouncer.restart, "pgbouncer")
        if kind == "pgbouncer_outage":
            return self._outage("pgbouncer", bouncer.kill, bouncer.start)
        return None

    def _outage(self, what: str, stop: Callable[[], None], start: Callable[[], None]) -> str:
        """Down for a while, as a failover or a restart that takes long: Redis for the outage,
        Postgres and PgBouncer 1 to 1.5 times as long."""
        seconds = self.outage if what == "redis" else self._rng.uniform(1.0, 1.5) * self.outage
        stop()
        self._no_more_faults.wait(seconds)
        start()
        return f"{what} down {seconds:.0f} s"

    def _flush_redis(self) -> str:
        redis.Redis.from_url(self.services.redis.url).flushall()
        return "FLUSHALL"

    def _redeliver_stale(self) -> str | None:
        try:
            return self.redeliver_stale()
        except Exception:  # Redis is down: this fault comes round again
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


def _did(action: Callable[[], None], what: str) -> str:
    action()
    return what


def _children(worker: WorkerProcess) -> list[psutil.Process]:
    try:
        return list(psutil.Process(worker.process.pid).children())
    except psutil.NoSuchProcess:
        return []
