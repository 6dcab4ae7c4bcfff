"""Connections: how many Postgres server connections 64 concurrent workers hold, through the
configured URL (PgBouncer in transaction mode in production) and, as the baseline, directly."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, make_url, text

from accounting import demo_data
from accounting.services import posting
from accounting.services.documents import upsert_documents
from accounting.store.engine import create_engine_for
from accounting.store.uow import UnitOfWork
from tasks.tools.bench.harness import Bench

DOCUMENTS_PER_ROUND = 5
SAMPLE_SECONDS = 0.02
# The run's own connections: PgBouncer passes each client's application_name on to the
# server connection it lends it; connections of earlier runs or other programs do not count.
RUN_SERVER_CONNECTIONS = """
SELECT count(*) FROM pg_stat_activity
 WHERE datname = current_database() AND application_name = :name AND pid <> pg_backend_pid()
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
    name = f"accounting-bench-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    done: list[int] = []
    peak = [0]
    errors: list[BaseException] = []
    sampler = _thread(errors, _sample, sample_url, name, stop, peak)
    threads = [_thread(errors, _work, url, name, org, n, stop, done) for n in range(workers)]
    sampler.start()
    for thread in threads:
        thread.start()
    time.sleep(seconds)  # the run's length is the measurement, not a synchronisation
    stop.set()
    for thread in [*threads, sampler]:
        thread.join(timeout=120)
    if errors:
        raise RuntimeError(f"{len(errors)} bench threads failed") from errors[0]
    host = make_url(url)
    return ConnectionsRun(f"{host.host}:{host.port}", workers, sum(done), peak[0])


def _thread(errors: list[BaseException], target: Any, *args: Any) -> threading.Thread:
    def guarded() -> None:
        try:
            target(*args)
        except BaseException as exc:  # reported by run(), not lost in a thread
            errors.append(exc)

    return threading.Thread(target=guarded)


def _work(
    url: str, name: str, org: str, worker: int, stop: threading.Event, done: list[int]
) -> None:
    engine = create_engine_for(url, pool_size=1, max_overflow=0, application_name=name)
    transactions, round_ = 0, 0
    try:
        while not stop.is_set():
            prefix = f"{org}-w{worker}-r{round_}"
            documents = list(demo_data.documents(DOCUMENTS_PER_ROUND, prefix=prefix))
            upsert_documents(UnitOfWork(engine), org, documents, max_documents=10)
            versions = {str(d["id"]): 1 for d in documents}
            posting.post_documents(UnitOfWork(engine), org, versions)
            transactions, round_ = transactions + 2, round_ + 1
    finally:
        engine.dispose()
        done.append(transactions)


def _sample(url: str, name: str, stop: threading.Event, peak: list[int]) -> None:
    engine: Engine = create_engine_for(url, pool_size=1, max_overflow=0)
    try:
        while not stop.is_set():
            with engine.connect() as connection:
                query = text(RUN_SERVER_CONNECTIONS)
                peak[0] = max(peak[0], int(connection.execute(query, {"name": name}).scalar_one()))
            time.sleep(SAMPLE_SECONDS)
    finally:
        engine.dispose()
