"""The physical ceiling of posting, in plain SQL: no Python per document, no queue, no product
code. Scratch tables (a schema of their own, dropped afterwards) hold documents that are all
posted once, so they carry history and real statistics; then ``clients`` connections re-post
batches of documents for a fixed time, each transaction doing the posting write set:
compare-and-set the batch's versions, retire their active entries, insert one entry with
6 lines per document. Ported from ``../shared/perf/`` (ceiling.sql, ceiling-tx.sql)."""

from __future__ import annotations

import contextlib
import os
import random
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

#: Every statement names it: a session's search_path would outlive the session through a
#: pooler in transaction mode (PgBouncer hands the server connection to the next client).
SCHEMA = "bench_ceiling"
BATCH = 200
LINES = 6

SETUP = f"""
DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;
CREATE SCHEMA {SCHEMA};
CREATE TABLE {SCHEMA}.c_documents (org_id text, id text, ready_version int NOT NULL DEFAULT 1,
  posted_version int NOT NULL DEFAULT 1, PRIMARY KEY (org_id, id));
CREATE TABLE {SCHEMA}.c_entries (id bigserial PRIMARY KEY, org_id text, document_id text,
  version int, active boolean NOT NULL DEFAULT true, entry_date date NOT NULL DEFAULT current_date);
CREATE UNIQUE INDEX ON {SCHEMA}.c_entries (org_id, document_id) WHERE active;
CREATE TABLE {SCHEMA}.c_lines (entry_id bigint REFERENCES {SCHEMA}.c_entries(id), account text,
  amount numeric(20,4), currency text, functional_amount numeric(20,4));
CREATE INDEX ON {SCHEMA}.c_lines (entry_id);
INSERT INTO {SCHEMA}.c_documents SELECT 'o', 'd' || g FROM generate_series(1, %(documents)s) g;
INSERT INTO {SCHEMA}.c_entries (org_id, document_id, version)
  SELECT 'o', 'd' || g, 1 FROM generate_series(1, %(documents)s) g;
INSERT INTO {SCHEMA}.c_lines SELECT e.id, 'acct' || k, CASE WHEN k = 1 THEN -500.00 ELSE 100.00 END,
  'EUR', CASE WHEN k = 1 THEN -500.00 ELSE 100.00 END
  FROM {SCHEMA}.c_entries e, generate_series(1, {LINES}) k;
"""

# The balance checks to compare the write set with (``run(..., check=...)``): none, the deferred
# per-entry trigger of migrations 0001/0003, and the per-statement one of 0013.
CHECKS = {
    "none": "",
    "deferred-per-entry": f"""
CREATE FUNCTION {SCHEMA}.c_entry_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE off record;
BEGIN
  SELECT currency, sum(amount) AS total INTO off FROM {SCHEMA}.c_lines WHERE entry_id = NEW.id
   GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
  IF FOUND THEN RAISE EXCEPTION 'unbalanced %', NEW.id; END IF;
  SELECT sum(functional_amount) AS total INTO off FROM {SCHEMA}.c_lines WHERE entry_id = NEW.id
  HAVING sum(functional_amount) <> 0;
  IF FOUND THEN RAISE EXCEPTION 'unbalanced functional %', NEW.id; END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER c_entries_balance AFTER INSERT ON {SCHEMA}.c_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.c_entry_must_balance();
""",
    "per-statement": f"""
CREATE TABLE {SCHEMA}.c_balance_pending (entry_id bigint PRIMARY KEY);
CREATE FUNCTION {SCHEMA}.c_pending_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM {SCHEMA}.c_lines WHERE entry_id = NEW.entry_id
              GROUP BY currency HAVING sum(amount) <> 0) THEN
    RAISE EXCEPTION 'unbalanced %', NEW.entry_id;
  END IF;
  DELETE FROM {SCHEMA}.c_balance_pending WHERE entry_id = NEW.entry_id;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER c_balance_pending_check AFTER INSERT ON {SCHEMA}.c_balance_pending
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.c_pending_must_balance();
CREATE FUNCTION {SCHEMA}.c_lines_must_balance() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = bench_ceiling, pg_temp AS $$
BEGIN
  INSERT INTO {SCHEMA}.c_balance_pending (entry_id)
  SELECT entry_id FROM (
    SELECT entry_id, sum(amount) AS total, sum(functional_amount) AS functional
      FROM new_lines GROUP BY entry_id, currency) per_currency
   GROUP BY entry_id HAVING bool_or(total <> 0) OR sum(functional) <> 0
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER c_lines_balance AFTER INSERT ON {SCHEMA}.c_lines REFERENCING NEW TABLE AS new_lines
  FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.c_lines_must_balance();
""",
}

# One transaction re-posts documents first .. first + BATCH - 1.
RETIRE = f"""
WITH due AS (
  UPDATE {SCHEMA}.c_documents
     SET ready_version = ready_version + 1, posted_version = ready_version + 1
   WHERE org_id = 'o'
     AND id IN (SELECT 'd' || g FROM generate_series(%(first)s, %(first)s + {BATCH - 1}) g)
     AND posted_version = ready_version
  RETURNING id)
UPDATE {SCHEMA}.c_entries e SET active = false FROM due
 WHERE e.org_id = 'o' AND e.document_id = due.id AND e.active
"""
INSERT = f"""
WITH new AS (
  INSERT INTO {SCHEMA}.c_entries (org_id, document_id, version)
  SELECT 'o', d.id, d.posted_version FROM {SCHEMA}.c_documents d
   WHERE d.org_id = 'o'
     AND d.id IN (SELECT 'd' || g FROM generate_series(%(first)s, %(first)s + {BATCH - 1}) g)
  RETURNING id)
INSERT INTO {SCHEMA}.c_lines (entry_id, account, amount, currency, functional_amount)
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
    #: CPU of the clients' own Postgres backends (from /proc, when the server is local):
    #: what the write set costs, whatever else the machine runs.
    backend_cpu_seconds: float | None = None
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

    @property
    def backend_cpu_ms_per_doc(self) -> float | None:
        if self.backend_cpu_seconds is None:
            return None
        return self.backend_cpu_seconds * 1000 / max(self.documents, 1)


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://``) as libpq takes it."""
    scheme, _, rest = database_url.partition("://")
    return f"{scheme.split('+')[0]}://{rest}"


def run(
    database_url: str, documents: int, seconds: float, clients: int = 2, check: str = "none"
) -> CeilingRun:
    """Set the scratch tables up with ``documents`` documents (at least a batch per client)
    and the balance check ``check`` (one of :data:`CHECKS`), then let ``clients`` connections
    re-post for ``seconds``; the scratch schema is dropped afterwards. CPU is the whole
    machine's busy seconds during the timed part."""
    url = libpq_url(database_url)
    documents = max(documents, BATCH * clients)
    try:
        _set_up(url, documents, CHECKS[check])
        counts = [0] * clients
        backend_cpu: list[float | None] = [None] * clients
        slice_size = documents // clients
        cpu_before, started = _busy_cpu_seconds(), time.monotonic()
        deadline = started + seconds
        threads = [
            threading.Thread(
                target=_client,
                args=(url, n * slice_size, slice_size, deadline, counts, backend_cpu, n),
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
    known = [seconds for seconds in backend_cpu if seconds is not None]
    backend = sum(known) if len(known) == clients else None
    return CeilingRun(clients, sum(counts), elapsed, cpu, backend)


def _set_up(url: str, documents: int, check: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(SETUP.replace("%(documents)s", str(documents)))
        if check:
            connection.execute(check)
        for table in ("c_documents", "c_entries", "c_lines"):
            connection.execute(f"VACUUM ANALYZE {SCHEMA}.{table}")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            connection.execute("CHECKPOINT")  # a clean start where the role may ask for one


def _client(
    url: str,
    start: int,
    slice_size: int,
    deadline: float,
    counts: list[int],
    backend_cpu: list[float | None],
    n: int,
) -> None:
    """Re-post random batches of this client's own slice (no two clients touch a document)
    until ``deadline``; count the committed transactions in ``counts[n]``, and the CPU its
    backend used in ``backend_cpu[n]``."""
    rng = random.Random(n)
    with psycopg.connect(url, autocommit=True) as connection:
        pid = connection.info.backend_pid
        before = _process_cpu_seconds(pid)
        while time.monotonic() < deadline:
            first = 1 + start + rng.randint(0, slice_size - BATCH)
            with connection.transaction():
                connection.execute(RETIRE, {"first": first})
                connection.execute(INSERT, {"first": first})
            counts[n] += 1
        after = _process_cpu_seconds(pid)
        if before is not None and after is not None:
            backend_cpu[n] = after - before


def _process_cpu_seconds(pid: int) -> float | None:
    """User and system CPU of a local process, or None (a remote server, no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy_cpu_seconds() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def main(argv: list[str]) -> None:
    """``python -m tasks.tools.bench.ceiling URL [SECONDS] [ROUNDS]``: the balance checks
    compared on the ceiling's write set, interleaved in one invocation (ratios to "none" in
    the same round are what count on a shared machine)."""
    url = argv[0]
    seconds = float(argv[1]) if len(argv) > 1 else 10
    rounds = int(argv[2]) if len(argv) > 2 else 2
    for round_ in range(1, rounds + 1):
        order = list(CHECKS)[round_ % len(CHECKS) :] + list(CHECKS)[: round_ % len(CHECKS)]
        runs = {check: run(url, 200_000, seconds, check=check) for check in order}
        base = runs["none"].docs_per_s
        for check, result in runs.items():
            print(
                f"round {round_} {check:>20}: {result.docs_per_s:8,.0f} documents/s"
                f" ({result.docs_per_s / base:.0%} of none),"
                f" {result.cpu_ms_per_doc:.3f} CPU ms/document (machine),"
                f" {result.backend_cpu_ms_per_doc or 0:.3f} (the clients' backends)",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
