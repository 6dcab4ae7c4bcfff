"""Scrape: what a Prometheus scrape costs in Postgres as history grows. Ours reads the
backlog, in flight and dead from partial indexes (``queue_figures``); the baseline is the
full-table count every scrape ran before (``status_counts``). Both are measured at a small
table and again once it holds ``documents`` rows, most of them posted long ago, as a
production table does."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from accounting import runtime
from accounting.services import queue
from tasks.tools.bench.harness import Bench, percentile

#: Rows inserted per statement while the table is filled.
FILL_CHUNK = 250_000
#: A backlog and some dead documents, as a live system has, whatever its history.
PENDING, DEAD = 2_000, 50
FILL = """
WITH n AS (SELECT CAST(:pending AS bigint) AS pending, CAST(:dead AS bigint) AS dead)
INSERT INTO documents (org_id, id, type, content, facts, content_hash, cost,
                       ready_version, posted_version, failed_version, posted_at)
SELECT :org, 'hist-' || g, 'payment', '{}'::jsonb, '{}'::jsonb, md5(g::text), 1,
       1, CASE WHEN g <= n.pending + n.dead THEN 0 ELSE 1 END,
       CASE WHEN g > n.pending AND g <= n.pending + n.dead THEN 1 ELSE 0 END,
       CASE WHEN g <= n.pending + n.dead THEN NULL ELSE now() END
  FROM n, generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) AS g
"""


@dataclass(frozen=True)
class ScrapeRun:
    documents: int
    ours_p50_ms: float
    ours_p99_ms: float
    baseline_p50_ms: float
    baseline_p99_ms: float


def run(bench: Bench, sizes: list[int], scrapes: int) -> list[ScrapeRun]:
    org = bench.new_org("scrape")
    runs, stored = [], 0
    with bench.progress() as progress:
        task = progress.add_task(f"fill {sizes[-1]:,} documents", total=sizes[-1])
        for size in sizes:
            stored = _fill(org, stored, size, lambda n: progress.update(task, completed=n))
            runs.append(_measure(size, scrapes))
    return runs


def _fill(org: str, stored: int, size: int, advance: Callable[[int], Any]) -> int:
    """Documents up to ``size``, then VACUUM ANALYZE as autovacuum would have by then."""
    engine = runtime.engine()
    while stored < size:
        stop = min(size, stored + FILL_CHUNK)
        with engine.begin() as connection:
            connection.execute(
                text(FILL),
                {"org": org, "start": stored + 1, "stop": stop, "pending": PENDING, "dead": DEAD},
            )
        stored = stop
        advance(stored)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE documents"))
    return stored


def _measure(size: int, scrapes: int) -> ScrapeRun:
    ours = _timed(lambda: queue.queue_figures(runtime.unit_of_work()), scrapes)
    baseline = _timed(lambda: queue.status(runtime.unit_of_work()), scrapes)
    return ScrapeRun(
        size,
        round(percentile(ours, 50), 2),
        round(percentile(ours, 99), 2),
        round(percentile(baseline, 50), 2),
        round(percentile(baseline, 99), 2),
    )


def _timed(scrape: Callable[[], Any], times: int) -> list[float]:
    scrape()  # a warm cache, as a scraped server has
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        scrape()
        samples.append((time.perf_counter() - started) * 1000)
    return samples
