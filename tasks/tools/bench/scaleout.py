"""Scale-out: documents/s as normal-lane worker processes are added (1, 2, 4, 8 by default),
each reaching Redis and Postgres (or PgBouncer, when the configured URL is one) through a TCP
proxy that adds a delay each way, as another host in the same zone would. At each step the
window that follows capacity (ours) and today's fixed window (the baseline) post the same
number of documents; the whole machine's CPU says what saturates where the curve flattens."""

from __future__ import annotations

import itertools
import time
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

import psutil

from accounting import runtime
from accounting.services.queue import pending_count, set_paused, status
from tasks.tools.bench.harness import Bench, wait_until
from tasks.tools.proxy import TcpProxy, postgres_target, proxy, through

MODES = {"ours": {}, "fixed": {"ACCOUNTING_WINDOW_FOLLOWS_CAPACITY": "false"}}
#: A step is flat when it adds less than this over the step before.
FLAT = 1.15


@dataclass(frozen=True)
class Step:
    mode: str
    workers: int
    documents: int
    seconds: float
    cpu_percent: float

    @property
    def docs_per_s(self) -> float:
        return self.documents / self.seconds


def run(
    bench: Bench, steps: list[int], documents: int, delay_ms: float, timeout: float
) -> list[Step]:
    with ExitStack() as stack:
        database = stack.enter_context(
            proxy(postgres_target(runtime.database_url()), delay=delay_ms / 1000)
        )
        broker = stack.enter_context(
            proxy(_redis_target(runtime.redis_url()), delay=delay_ms / 1000)
        )
        env = {
            "ACCOUNTING_DATABASE_URL": through(runtime.database_url(), database),
            "ACCOUNTING_REDIS_URL": _redis_through(runtime.redis_url(), broker),
        }
        return [
            _step(bench, mode, workers, documents, env | settings, timeout)
            for workers in steps
            for mode, settings in MODES.items()
        ]


def flattens_at(steps: list[Step], mode: str = "ours") -> int | None:
    """The first worker count that added less than FLAT over the one before."""
    ours = [s for s in steps if s.mode == mode]
    for before, step in itertools.pairwise(ours):
        if step.docs_per_s < before.docs_per_s * FLAT:
            return step.workers
    return None


def _step(
    bench: Bench, mode: str, workers: int, documents: int, env: dict[str, str], timeout: float
) -> Step:
    from tasks.app import app
    from tasks.tools.worker_pool import worker_pool

    org = bench.new_org(f"scale-{mode}-{workers}")
    with bench.abandoning([org]), bench.progress() as progress, ExitStack() as held:
        held.enter_context(bench.held(org))
        bench.load(org, documents, f"{org}-doc", progress)
        pool = held.enter_context(worker_pool(app, env, bench.log_dir))
        pool.start("accounting.high", concurrency=1)
        for _ in range(workers):
            pool.start("accounting.normal", concurrency=1)
        pool.wait_ready()
        task = progress.add_task(f"{mode}, {workers} workers", total=documents)
        cpu_before, started = psutil.cpu_times(), time.monotonic()
        set_paused(runtime.unit_of_work(), org, False)

        def all_posted() -> bool:
            pending = pending_count(runtime.unit_of_work(), [org])
            progress.update(task, completed=documents - pending)
            return pending == 0

        wait_until(all_posted, timeout, f"scaleout {mode} x{workers}: all posted", interval=0.2)
        seconds, cpu_after = time.monotonic() - started, psutil.cpu_times()
    if status(runtime.unit_of_work(), org)["dead"]:
        raise RuntimeError(f"scaleout {mode} x{workers}: documents could not be posted")
    return Step(mode, workers, documents, seconds, _busy_percent(cpu_before, cpu_after))


def _busy_percent(before: object, after: object) -> float:
    def busy(times: object) -> tuple[float, float]:
        total = sum(times)  # type: ignore[call-overload]
        idle = times.idle + getattr(times, "iowait", 0.0)  # type: ignore[attr-defined]
        return total - idle, total

    (busy_before, total_before), (busy_after, total_after) = busy(before), busy(after)
    return round(100 * (busy_after - busy_before) / max(1e-9, total_after - total_before), 1)


def _redis_target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def _redis_through(url: str, proxied: TcpProxy) -> str:
    parts = urlsplit(url)
    auth = f"{parts.username or ''}:{parts.password}@" if parts.password else ""
    return f"redis://{auth}127.0.0.1:{proxied.port}{parts.path or '/0'}"
