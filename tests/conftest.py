"""Shared fixtures: real Postgres and Redis (the test ones, or embedded when none is set).

The suite wipes the database and flushes the Redis database it uses, so it never takes the
application's variables: it reads ``ACCOUNTING_TEST_DATABASE_URL`` and
``ACCOUNTING_TEST_REDIS_URL`` (embedded services in the data folder when unset), and it refuses
a database holding tables, or a Redis database holding keys, that it did not put there.
A test service that does not answer is skipped locally and fails the run in CI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest
import redis
from sqlalchemy import Engine, make_url, text

from accounting import demo_data, embedded
from accounting.config import Settings, get_settings
from accounting.store import migrate
from accounting.store.engine import create_engine_for
from accounting.store.models import Base
from accounting.store.uow import UnitOfWork

from helpers import libpq

IN_CI = bool(os.environ.get("CI"))
#: Every table, emptied before each test that asks for the database (alembic's own aside).
TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)
#: What marks a database, or a Redis database, as the suite's own.
MARKER_SCHEMA = "accounting_test_suite"
MARKER_KEY = "accounting-test-suite"

_stack = ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    """Use the test services (embedded ones for what is not given), and export their URLs as
    the application's, so every process of the run (and the workers it starts) uses them and
    nothing else, whatever was exported before."""
    database_url = os.environ.get("ACCOUNTING_TEST_DATABASE_URL")
    redis_url = os.environ.get("ACCOUNTING_TEST_REDIS_URL")
    if not (database_url and redis_url):
        settings = Settings(database_url=database_url, redis_url=redis_url)
        data_dir = settings.data_dir / "test"
        test_settings = settings.model_copy(update={"data_dir": data_dir})
        urls = _stack.enter_context(embedded.services(test_settings))
        database_url, redis_url = urls.database_url, urls.redis_url
    os.environ["ACCOUNTING_DATABASE_URL"] = database_url
    os.environ["ACCOUNTING_REDIS_URL"] = redis_url
    get_settings.cache_clear()


def pytest_unconfigure(config: pytest.Config) -> None:
    _stack.close()


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def database_url() -> str:
    url = get_settings().database_url
    assert url
    try:
        libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
        psycopg.connect(libpq, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        _unavailable("Postgres", exc)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = get_settings().redis_url
    assert url
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=5) as client:
            if client.dbsize() and not client.exists(MARKER_KEY):
                pytest.exit(
                    f"refusing to flush {url}: it holds keys the test suite did not put there. "
                    "Point ACCOUNTING_TEST_REDIS_URL at a Redis database of its own.",
                    returncode=3,
                )
            client.set(MARKER_KEY, "1")
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    return url


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """The test database, wiped and built from scratch with ``alembic upgrade head``: whatever
    an earlier run or an older schema left there cannot leak into this one."""
    engine = create_engine_for(database_url, pool_size=4, max_overflow=4)
    with engine.begin() as connection:
        _refuse_a_database_not_ours(connection)
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {MARKER_SCHEMA}"))
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(database_url)
    yield engine
    engine.dispose()


def _refuse_a_database_not_ours(connection: Any) -> None:
    ours = connection.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :marker"), {"marker": MARKER_SCHEMA}
    ).first()
    tables = connection.execute(
        text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    ).scalar_one()
    if tables and not ours:
        pytest.exit(
            f"refusing to wipe {connection.engine.url.render_as_string(hide_password=True)}: it "
            f"holds {tables} tables the test suite did not make. Point "
            "ACCOUNTING_TEST_DATABASE_URL at an empty database of its own.",
            returncode=3,
        )


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """The migrated database, emptied before the test."""
    with migrated_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    return migrated_engine


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.set(MARKER_KEY, "1")
    yield client
    client.close()


@pytest.fixture
def uow(engine: Engine) -> Any:
    """A factory of fresh units of work: ``uow()``."""
    return lambda: UnitOfWork(engine)


@pytest.fixture
def make_org(uow: Any) -> Any:
    """``make_org(id)``: a demo organization (EUR) with its chart and a published matrix."""

    def make(org_id: str) -> str:
        demo_data.seed_organization(uow, org_id, name=f"{org_id} GmbH")
        return org_id

    return make


@pytest.fixture
def org(make_org: Any) -> str:
    return str(make_org("acme"))


@pytest.fixture
def scratch_database(database_url: str) -> Iterator[str]:
    """A new, empty database on the test server."""
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq(database_url), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq(database_url), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
