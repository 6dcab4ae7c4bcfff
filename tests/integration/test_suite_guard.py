"""The suite wipes only what is its own: pointed at a database holding someone's tables, or a
Redis database holding someone's keys, it refuses by name and touches nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from helpers import libpq

ROOT = Path(__file__).resolve().parents[2]
#: A test that needs the database and Redis: the guards run before it.
NEEDS_BOTH = (
    "tests/integration/services/test_dispatcher.py"
    "::test_pending_documents_are_published_in_batches_up_to_the_window"
)


def run_suite(database_url: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ACCOUNTING_TEST_DATABASE_URL": database_url,
        "ACCOUNTING_TEST_REDIS_URL": redis_url,
        # what an operator may have exported: the suite must not take these
        "ACCOUNTING_DATABASE_URL": database_url,
        "ACCOUNTING_REDIS_URL": redis_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", NEEDS_BOTH],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def someones_database(scratch_database: str) -> str:
    """A database holding a table the suite did not make."""
    with psycopg.connect(libpq(scratch_database), autocommit=True) as connection:
        connection.execute("CREATE TABLE ledger (id int)")
        connection.execute("INSERT INTO ledger VALUES (42)")
    return scratch_database


def test_a_database_holding_tables_the_suite_did_not_make_is_refused_and_kept(
    someones_database: str, redis_url: str
) -> None:
    result = run_suite(someones_database, redis_url)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "refusing to wipe" in result.stdout + result.stderr
    with psycopg.connect(libpq(someones_database)) as connection:
        assert connection.execute("SELECT id FROM ledger").fetchall() == [(42,)]


@pytest.fixture
def someones_redis(redis_url: str) -> Iterator[str]:
    """Another database number of the same Redis, holding a key the suite did not put there."""
    server = redis_url.rsplit("/", 1)[0]
    number = next(n for n in range(16) if not redis.Redis.from_url(f"{server}/{n}").dbsize())
    client = redis.Redis.from_url(f"{server}/{number}")
    client.set("someones:session", "keep me")
    try:
        yield f"{server}/{number}"
    finally:
        client.delete("someones:session")


def test_a_redis_database_holding_keys_the_suite_did_not_put_there_is_refused_and_kept(
    scratch_database: str, someones_redis: str
) -> None:
    result = run_suite(scratch_database, someones_redis)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "refusing to flush" in result.stdout + result.stderr
    assert redis.Redis.from_url(someones_redis).get("someones:session") == b"keep me"
