"""Shared fixtures: real Postgres and Redis (configured, or embedded when no URLs are set).

A configured service that does not answer is skipped locally and fails the run in CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest
import redis
from sqlalchemy import Engine, text

from accounting import demo_data, embedded
from accounting.config import Settings, get_settings
from accounting.store import migrate
from accounting.store.engine import create_engine_for
from accounting.store.models import Base
from accounting.store.uow import UnitOfWork

IN_CI = bool(os.environ.get("CI"))
#: Every table, emptied before each test that asks for the database (alembic's own aside).
TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)

_stack = ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    """Start embedded services for what is not configured, and export their URLs so every
    process of the run (and the Celery workers it starts) uses the same ones."""
    settings = Settings()
    if settings.database_url and settings.redis_url:
        return
    test_settings = settings.model_copy(update={"data_dir": settings.data_dir / "test"})
    urls = _stack.enter_context(embedded.services(test_settings))
    os.environ["ACCOUNTING_DATABASE_URL"] = urls.database_url
    os.environ["ACCOUNTING_REDIS_URL"] = urls.redis_url
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
            client.ping()
    except redis.RedisError as exc:
        _unavailable("Redis", exc)
    return url


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """The test database, wiped and built from scratch with ``alembic upgrade head``: whatever
    an earlier run or an older schema left there cannot leak into this one. (The suite owns
    the database it is given: never point ACCOUNTING_DATABASE_URL at one you care about.)"""
    engine = create_engine_for(database_url, pool_size=4, max_overflow=4)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(database_url)
    yield engine
    engine.dispose()


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
