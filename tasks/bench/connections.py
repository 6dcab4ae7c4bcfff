"""Connections: how many Postgres server connections 64 concurrent workers hold, through the
configured URL (PgBouncer in transaction mode in production) and, as the baseline, directly."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, make_url, text

from accounting import demo_data, posting, services
from accounting.db import create_engine_for
from accounting.uow import UnitOfWork
from tasks.bench.harness import Bench

DOCUMENTS_PER_ROUND = 5
SAMPLE_SECONDS = 0.02
ACTIVE_SERVER_CONNECTIONS = """
SELECT count(*) FROM pg_stat_activity
 WHERE datname = current_database() AND backend_type = 'client backend'
   AND pid <> pg_backend_pid()
"""


@dataclass(frozen=True)
class ConnectionsRun:
    url: str
    workers: int
    transactions: int
    peak_server_connections: int


def run(bench: Bench, url: str, sample_url: str, workers: int, seconds: float) -> ConnectionsRun:
    """``workers`` threads, each with its own one-connection pool as a worker process has,
    store and post documents for ``seconds``; a sampler counts the server connections of the
    database meanwhile (its own excluded)."""
    org = bench.new_org("connections")
    stop = threading.Event()
    done: list[int] = []
    peak = [0]
    sampler = threading.Thread(target=_sample, args=(sample_url, stop, peak))
    threads = [
        threading.Thread(target=_work, args=(url, org, n, stop, done)) for n in range(workers)
    ]
    sampler.start()
    for thread in threads:
        thread.start()
    time.sleep(seconds)  # the run's length is the measurement, not a synchronisation
    stop.set()
    for thread in [*threads, sampler]:
        thread.join(timeout=120)
    host = make_url(url)
    return ConnectionsRun(f"{host.host}:{host.port}", workers, sum(done), peak[0])


def _work(url: str, org: str, worker: int, stop: threading.Event, done: list[int]) -> None:
    engine = create_engine_for(url, pool_size=1, max_overflow=0)
    transactions, round_ = 0, 0
    try:
        while not stop.is_set():
            prefix = f"{org}-w{worker}-r{round_}"
            documents = list(demo_data.documents(DOCUMENTS_PER_ROUND, prefix=prefix))
            services.upsert_documents(UnitOfWork(engine), org, documents, max_documents=10)
            versions = {str(d["id"]): 1 for d in documents}
            posting.post_documents(UnitOfWork(engine), org, versions)
            transactions, round_ = transactions + 2, round_ + 1
    finally:
        engine.dispose()
        done.append(transactions)


def _sample(url: str, stop: threading.Event, peak: list[int]) -> None:
    engine: Engine = create_engine_for(url, pool_size=1, max_overflow=0)
    try:
        while not stop.is_set():
            with engine.connect() as connection:
                peak[0] = max(
                    peak[0], int(connection.execute(text(ACTIVE_SERVER_CONNECTIONS)).scalar_one())
                )
            time.sleep(SAMPLE_SECONDS)
    finally:
        engine.dispose()
