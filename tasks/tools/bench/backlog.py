"""Backlog: Redis memory while a very large backlog sits in Postgres and drains."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tasks.tools.bench.harness import Bench


@dataclass(frozen=True)
class BacklogRun:
    backlog: int
    redis_before_mb: float
    redis_peak_mb: float


def run(bench: Bench, backlog: int, drain_seconds: float) -> BacklogRun:
    """Store ``backlog`` documents while the workers drain, then keep draining for
    ``drain_seconds``; Redis memory is sampled throughout."""
    org = bench.new_org("backlog")
    before = bench.redis_used_mb()
    peak = before
    with bench.abandoning([org]), bench.workers("ours"), bench.progress() as progress:
        chunk = 50_000
        task = progress.add_task(f"load {backlog:,} documents", total=backlog)
        for start in range(0, backlog, chunk):
            size = min(chunk, backlog - start)
            bench.load(org, size, f"{org}-{start}")
            progress.advance(task, size)
            peak = max(peak, bench.redis_used_mb())
        deadline = time.monotonic() + drain_seconds
        while time.monotonic() < deadline:
            peak = max(peak, bench.redis_used_mb())
            time.sleep(0.25)
    return BacklogRun(backlog, round(before, 2), round(peak, 2))
