"""Small readers of the database state that tests assert on, and the processes they start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from accounting.embedded import free_port


def libpq(url: str) -> str:
    """A SQLAlchemy URL as psycopg takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def invoice(doc_id: str, unit_price: str = "100.00", quantity: str = "1") -> dict[str, Any]:
    return {
        "id": doc_id,
        "type": "invoice",
        "date": "2026-03-01",
        "currency": "EUR",
        "lines": [{"quantity": quantity, "unit_price": unit_price, "tax_rate": "0.19"}],
    }


def versions(engine: Engine, org_id: str, doc_id: str) -> tuple[int, int, int]:
    """(ready_version, posted_version, failed_version) of one document."""
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT ready_version, posted_version, failed_version FROM documents"
                " WHERE org_id = :o AND id = :d"
            ),
            {"o": org_id, "d": doc_id},
        ).one()
    return (row[0], row[1], row[2])


def active_entries(engine: Engine, org_id: str, doc_id: str) -> list[int]:
    """Document versions of the document's active (not retired) entry sets."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT document_version FROM journal_entries"
                    " WHERE org_id = :o AND document_id = :d AND status = 'active'"
                ),
                {"o": org_id, "d": doc_id},
            ).scalars()
        )


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one())


def unbalanced_entries(engine: Engine) -> int:
    return count(
        engine,
        """
        SELECT count(*) FROM (
            SELECT entry_id FROM journal_lines GROUP BY entry_id, currency
            HAVING sum(amount) <> 0
            UNION
            SELECT entry_id FROM journal_lines GROUP BY entry_id
            HAVING sum(functional_amount) <> 0
        ) AS off
        """,
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str, pool: Any = None) -> None:
    """Poll ``condition`` until it holds; fail with the workers' logs after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(
                f"--- {w.name}\n{w.log_tail()}" for w in (pool.workers if pool else [])
            )
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{logs}")
        time.sleep(0.05)


def assert_posted_exactly_once(engine: Engine, org_id: str, expected: int) -> None:
    """Every document of the organization has exactly one active entry set, at its latest
    version, and no version was ever posted twice."""
    assert count(engine, "SELECT count(*) FROM documents WHERE org_id = :o", o=org_id) == expected
    at_latest = count(
        engine,
        """
        SELECT count(*) FROM documents d JOIN journal_entries e
          ON e.org_id = d.org_id AND e.document_id = d.id AND e.status = 'active'
         WHERE d.org_id = :o AND e.document_version = d.ready_version
           AND d.posted_version = d.ready_version
        """,
        o=org_id,
    )
    assert at_latest == expected
    duplicated = count(
        engine,
        """
        SELECT count(*) FROM (
            SELECT document_id FROM journal_entries WHERE org_id = :o AND status = 'active'
            GROUP BY document_id HAVING count(*) > 1
        ) AS d
        """,
        o=org_id,
    )
    assert duplicated == 0
    assert unbalanced_entries(engine) == 0


def await_lock_wait(engine: Engine, timeout: float = 10.0, at_least: int = 1) -> None:
    """Return once ``at_least`` sessions wait for a lock (the race a test set up is in place)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = engine.connect()
        try:
            n = waiting.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar_one()
        finally:
            waiting.close()
        if n >= at_least:
            return
        time.sleep(0.01)
    raise AssertionError("no session ever waited for the lock")


#: Every table hostile input could reach, with the rows that count: not those of the documents
#: the call may store (``:allowed``), nor open period rows (posting an accepted document opens
#: the months it touches), nor document_components (an accepted document records its own).
SNAPSHOT = {
    "organizations": "TRUE",
    "accounts": "TRUE",
    "periods": "status = 'closed'",
    "exchange_rates": "TRUE",
    "posting_matrices": "TRUE",
    "posting_rules": "TRUE",
    "api_tokens": "TRUE",
    "documents": "id <> ALL(:allowed)",
    "journal_entries": "document_id <> ALL(:allowed)",
    "journal_lines": "entry_id IN (SELECT id FROM journal_entries"
    " WHERE document_id <> ALL(:allowed))",
    "jobs": "TRUE",
    "job_documents": "document_id <> ALL(:allowed)",
}


def snapshot(engine: Engine, *allowed_ids: str) -> dict[str, tuple[int, str]]:
    """Per table, the number and a digest of its rows (every column, queue state included)."""
    with engine.connect() as connection:
        return {
            table: tuple(  # type: ignore[misc]
                connection.execute(
                    text(
                        f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY"
                        f" t::text)), '') FROM {table} t WHERE {where}"
                    ),
                    {"allowed": list(allowed_ids)},
                ).one()
            )
            for table, where in SNAPSHOT.items()
        }


class Server:
    """`accounting serve` in a process of its own, stopped and started again on one port."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log = log_dir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tasks.cli", "serve", "--port", str(self.port)],
                env=os.environ.copy(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._answers, 30, "the server to answer")

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)
