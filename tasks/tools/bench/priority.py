"""Priority: user recreates while a large normal backlog drains, ours against one FIFO queue."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from accounting import runtime
from accounting.services.documents import document_versions
from accounting.services.queue import status
from tasks.tools.bench.harness import Bench, percentile, wait_until


@dataclass(frozen=True)
class PriorityRun:
    latencies_ms: list[float]
    redis_before_mb: float
    redis_peak_mb: float
    drained_per_s: float

    def figures(self) -> dict[str, float]:
        return {
            "p50_ms": round(percentile(self.latencies_ms, 50), 1),
            "p99_ms": round(percentile(self.latencies_ms, 99), 1),
            "max_ms": round(max(self.latencies_ms), 1),
        }


def run(bench: Bench, mode: str, backlog: int, recreates: int, spacing: float) -> PriorityRun:
    """One organization's ``backlog`` documents (stored while it is paused, so the whole
    backlog is pending when the drain starts) drain; meanwhile ``recreates`` user recreates
    of one document each, ``spacing`` seconds apart. Latency: from ``recreate.delay()``
    returning to the new version's entries being committed (observed in Postgres)."""
    from tasks.documents import recreate

    org = bench.new_org(mode)
    redis_before = bench.redis_used_mb()
    with bench.abandoning([org]), bench.workers(mode):
        bench.load(org, recreates, f"{org}-user")
        users = [f"{org}-user-{n:07d}" for n in range(recreates)]
        wait_until(lambda: _posted(org) >= len(users), 60, "the user documents posted")
        with bench.progress() as progress, bench.held(org):
            bench.load(org, backlog, f"{org}-bulk", progress)
        with bench.progress() as progress:
            started, before = time.monotonic(), _posted(org)
            sampler = RedisSampler(bench)
            latencies = timed_recreates(org, users, recreates, spacing, recreate, sampler, progress)
            drained = (_posted(org) - before) / (time.monotonic() - started)
    return PriorityRun(latencies, redis_before, sampler.peak, drained)


class RedisSampler:
    def __init__(self, bench: Bench) -> None:
        self._bench = bench
        self.peak = bench.redis_used_mb()
        self._next = 0.0

    def sample(self) -> None:
        if time.monotonic() >= self._next:
            self.peak = max(self.peak, self._bench.redis_used_mb())
            self._next = time.monotonic() + 0.25


def timed_recreates(
    org: str,
    users: list[str],
    count: int,
    spacing: float,
    recreate: Any,
    sampler: RedisSampler,
    progress: Any,
) -> list[float]:
    task = progress.add_task("recreates committed", total=count)
    waiting: dict[str, tuple[int, float]] = {}  # document -> (version to see posted, sent at)
    latencies: list[float] = []
    next_send = time.monotonic()
    sent = 0
    while len(latencies) < count:
        now = time.monotonic()
        if sent < count and now >= next_send:
            document = next(d for d in users if d not in waiting)
            ready, _ = document_versions(runtime.unit_of_work(), org, [document])[document]
            recreate.delay(org, [document], requested_by="bench")
            waiting[document] = (ready + 1, time.monotonic())
            sent, next_send = sent + 1, now + spacing
        current = document_versions(runtime.unit_of_work(), org, list(waiting))
        seen = time.monotonic()
        for document, (target, sent_at) in list(waiting.items()):
            if current[document][1] >= target:
                latencies.append((seen - sent_at) * 1000)
                del waiting[document]
                progress.advance(task)
        sampler.sample()
        recent = any(seen - sent_at < 1.0 for _, sent_at in waiting.values())
        time.sleep(0.005 if recent else 0.05)
    return latencies


def _posted(org: str) -> int:
    return int(status(runtime.unit_of_work(), org)["posted"])
