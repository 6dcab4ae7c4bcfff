"""The physical ceiling of posting, in plain SQL: no Python per document, no queue, no product
code. Scratch tables (a schema of their own, dropped afterwards) hold documents that are all
posted once, so they carry history and real statistics; then ``clients`` connections re-post
batches of documents for a fixed time, each transaction doing the posting write set:
compare-and-set the batch's versions, retire their active entries, insert one entry with
6 lines per document. Ported from ``../shared/perf/`` (ceiling.sql, ceiling-tx.sql)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

import psutil
import psycopg

SCHEMA = "bench_ceiling"
BATCH = 200
LINES = 6

SETUP = f"""
DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;
CREATE SCHEMA {SCHEMA};
SET search_path = {SCHEMA};
CREATE TABLE c_documents (org_id text, id text, ready_version int NOT NULL DEFAULT 1,
  posted_version int NOT NULL DEFAULT 1, PRIMARY KEY (org_id, id));
CREATE TABLE c_entries (id bigserial PRIMARY KEY, org_id text, document_id text, version int,
  active boolean NOT NULL DEFAULT true, entry_date date NOT NULL DEFAULT current_date);
CREATE UNIQUE INDEX ON c_entries (org_id, document_id) WHERE active;
CREATE TABLE c_lines (entry_id bigint REFERENCES c_entries(id), account text,
  amount numeric(20,4), currency text, functional_amount numeric(20,4));
CREATE INDEX ON c_lines (entry_id);
INSERT INTO c_documents SELECT 'o', 'd' || g FROM generate_series(1, %(documents)s) g;
INSERT INTO c_entries (org_id, document_id, version)
  SELECT 'o', 'd' || g, 1 FROM generate_series(1, %(documents)s) g;
INSERT INTO c_lines SELECT e.id, 'acct' || k, CASE WHEN k = 1 THEN -500.00 ELSE 100.00 END,
  'EUR', CASE WHEN k = 1 THEN -500.00 ELSE 100.00 END
  FROM c_entries e, generate_series(1, {LINES}) k;
"""

# One transaction re-posts documents first .. first + BATCH - 1.
RETIRE = f"""
WITH due AS (
  UPDATE c_documents SET ready_version = ready_version + 1, posted_version = ready_version + 1
   WHERE org_id = 'o'
     AND id IN (SELECT 'd' || g FROM generate_series(%(first)s, %(first)s + {BATCH - 1}) g)
     AND posted_version = ready_version
  RETURNING id)
UPDATE c_entries e SET active = false FROM due
 WHERE e.org_id = 'o' AND e.document_id = due.id AND e.active
"""
INSERT = f"""
WITH new AS (
  INSERT INTO c_entries (org_id, document_id, version)
  SELECT 'o', d.id, d.posted_version FROM c_documents d
   WHERE d.org_id = 'o'
     AND d.id IN (SELECT 'd' || g FROM generate_series(%(first)s, %(first)s + {BATCH - 1}) g)
  RETURNING id)
INSERT INTO c_lines (entry_id, account, amount, currency, functional_amount)
SELECT new.id, 'acct' || k, CASE WHEN k = 1 THEN -500.00 ELSE 100.00 END, 'EUR',
       CASE WHEN k = 1 THEN -500.00 ELSE 100.00 END
  FROM new, generate_series(1, {LINES}) k
"""


@dataclass(frozen=True)
class CeilingRun:
    clients: int
    transactions: int
    seconds: float
    cpu_seconds: float
    mode: str = "SQL-only ceiling"

    @property
    def documents(self) -> int:
        return self.transactions * BATCH

    @property
    def docs_per_s(self) -> float:
        return self.documents / self.seconds

    @property
    def cpu_ms_per_doc(self) -> float:
        return self.cpu_seconds * 1000 / max(self.documents, 1)


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://``) as libpq takes it."""
    scheme, _, rest = database_url.partition("://")
    return f"{scheme.split('+')[0]}://{rest}"


def run(database_url: str, documents: int, seconds: float, clients: int = 2) -> CeilingRun:
    """Set the scratch tables up with ``documents`` documents (at least a batch per client),
    then let ``clients`` connections re-post for ``seconds``; the scratch schema is dropped
    afterwards. CPU is the whole machine's busy seconds during the timed part."""
    url = libpq_url(database_url)
    documents = max(documents, BATCH * clients)
    try:
        _set_up(url, documents)
        counts = [0] * clients
        slice_size = documents // clients
        cpu_before, started = _busy_cpu_seconds(), time.monotonic()
        deadline = started + seconds
        threads = [
            threading.Thread(
                target=_client, args=(url, n * slice_size, slice_size, deadline, counts, n)
            )
            for n in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed, cpu = time.monotonic() - started, _busy_cpu_seconds() - cpu_before
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    return CeilingRun(clients, sum(counts), elapsed, cpu)


def _set_up(url: str, documents: int) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(SETUP.replace("%(documents)s", str(documents)))
        for table in ("c_documents", "c_entries", "c_lines"):
            connection.execute(f"VACUUM ANALYZE {SCHEMA}.{table}")
        connection.execute("CHECKPOINT")


def _client(
    url: str, start: int, slice_size: int, deadline: float, counts: list[int], n: int
) -> None:
    """Re-post random batches of this client's own slice (no two clients touch a document)
    until ``deadline``; count the committed transactions in ``counts[n]``."""
    rng = random.Random(n)
    with psycopg.connect(url, autocommit=True, options=f"-c search_path={SCHEMA}") as connection:
        while time.monotonic() < deadline:
            first = 1 + start + rng.randint(0, slice_size - BATCH)
            with connection.transaction():
                connection.execute(RETIRE, {"first": first})
                connection.execute(INSERT, {"first": first})
            counts[n] += 1


def _busy_cpu_seconds() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))
