"""Soak: a steady load for a long time (updates of a live population of documents, and user
recreates), sampled every minute: throughput, the size of each table and its indexes, dead
tuples and autovacuum runs. The queue must cost the same at the end as at the start, and what
Postgres holds must follow the live data; only the ledger's history (retired entry sets, kept
for the audit trail) may grow with time."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from accounting import demo_data, runtime
from accounting.domain.lanes import Lane
from accounting.services.documents import upsert_documents
from accounting.services.queue import pending_count
from accounting.services.recreate import request_recreate
from tasks.tools.bench.harness import Bench, wait_until

TABLES = ("documents", "journal_entries", "journal_lines", "jobs", "job_documents")
SAMPLE = """
SELECT relname, pg_total_relation_size(relid) AS bytes, n_live_tup, n_dead_tup, autovacuum_count
  FROM pg_stat_user_tables WHERE relname = ANY(:tables)
"""
POSTED = "SELECT coalesce(sum(posted_version), 0) FROM documents WHERE org_id = :org"
UPDATE_CHUNK = 100


@dataclass(frozen=True)
class Sample:
    minute: float
    posted_per_s: float
    pending: int
    #: table -> (total bytes with indexes and TOAST, live tuples, dead tuples, autovacuums)
    tables: dict[str, tuple[int, int, int, int]]


def run(
    bench: Bench, minutes: float, rate: float, population: int, sample_seconds: float
) -> list[Sample]:
    org = bench.new_org("soak")
    stop = threading.Event()
    with bench.abandoning([org]), bench.workers("ours"):
        bench.load(org, population, f"{org}-doc")
        wait_until(lambda: pending_count(runtime.unit_of_work(), [org]) == 0, 600, "loaded")
        load = threading.Thread(target=_steady, args=(org, population, rate, stop), daemon=True)
        load.start()
        try:
            return _sample(org, minutes, sample_seconds)
        finally:
            stop.set()
            load.join(timeout=30)


def _steady(org: str, population: int, rate: float, stop: threading.Event) -> None:
    """Updates of random documents at ``rate`` per second (each a new revision, dated a day
    later or back), and a user's recreate of a few documents every second."""
    rng = random.Random(zlib.crc32(org.encode()))
    documents = list(demo_data.documents(population, prefix=f"{org}-doc"))
    revision = [1] * population
    started, sent = time.monotonic(), 0
    while not stop.is_set():
        picks = rng.sample(range(population), min(UPDATE_CHUNK, population))
        for n in picks:
            revision[n] += 1
        upsert_documents(
            runtime.unit_of_work(),
            org,
            [_revised(documents[n], revision[n]) for n in picks],
            max_documents=len(picks),
        )
        sent += len(picks)
        if sent % 1000 < UPDATE_CHUNK:
            ids = [str(documents[n]["id"]) for n in rng.sample(range(population), 3)]
            request_recreate(runtime.unit_of_work(), org, ids, hold_seconds=None, lane=Lane.HIGH)
        stop.wait(max(0.0, started + sent / rate - time.monotonic()))


def _revised(document: dict[str, Any], revision: int) -> dict[str, Any]:
    day = dt.date.fromisoformat(str(document["date"])) + dt.timedelta(days=revision % 2)
    return {**document, "date": day.isoformat(), "revision": revision}


def _sample(org: str, minutes: float, every: float) -> list[Sample]:
    samples: list[Sample] = []
    started = time.monotonic()
    posted, at = _posted(org), started
    while time.monotonic() - started < minutes * 60:
        time.sleep(every)  # the sampling period is the measurement, not a synchronisation
        now, total = time.monotonic(), _posted(org)
        samples.append(
            Sample(
                round((now - started) / 60, 2),
                round((total - posted) / (now - at), 1),
                pending_count(runtime.unit_of_work(), [org]),
                _tables(),
            )
        )
        posted, at = total, now
    return samples


def _posted(org: str) -> int:
    with runtime.engine().connect() as connection:
        return int(connection.execute(text(POSTED), {"org": org}).scalar_one())


def _tables() -> dict[str, tuple[int, int, int, int]]:
    with runtime.engine().connect() as connection:
        rows = connection.execute(text(SAMPLE), {"tables": list(TABLES)})
        return {row.relname: tuple(row[1:]) for row in rows}


def verdict(samples: list[Sample]) -> dict[str, Any]:
    """Throughput of the last tenth against the first, and each table's growth."""
    tenth = max(1, len(samples) // 10)
    first = sum(s.posted_per_s for s in samples[:tenth]) / tenth
    last = sum(s.posted_per_s for s in samples[-tenth:]) / tenth
    growth = {
        table: round(samples[-1].tables[table][0] / max(1, samples[0].tables[table][0]), 2)
        for table in TABLES
        if table in samples[0].tables and table in samples[-1].tables
    }
    return {
        "first_tenth_docs_per_s": round(first, 1),
        "last_tenth_docs_per_s": round(last, 1),
        "last_over_first": round(last / first, 3) if first else None,
        "size_growth": growth,
    }
