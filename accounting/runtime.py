"""Per-process handles built from the settings: the database engine, Redis, units of work."""

from __future__ import annotations

import os

import redis
from sqlalchemy import Engine

from accounting.config import Settings, get_settings
from accounting.db import engine_for_process
from accounting.errors import PermanentError
from accounting.uow import UnitOfWork
from accounting.wakeup import Wakeup

_redis_clients: dict[tuple[int, str], redis.Redis] = {}


def database_url(settings: Settings | None = None) -> str:
    url = (settings or get_settings()).database_url
    if not url:
        raise PermanentError("ACCOUNTING_DATABASE_URL is not set")
    return url


def redis_url(settings: Settings | None = None) -> str:
    url = (settings or get_settings()).redis_url
    if not url:
        raise PermanentError("ACCOUNTING_REDIS_URL is not set")
    return url


def engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    return engine_for_process(
        database_url(settings),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )


def unit_of_work(settings: Settings | None = None) -> UnitOfWork:
    return UnitOfWork(engine(settings))


def redis_client(settings: Settings | None = None) -> redis.Redis:
    """This process's Redis client (a forked child gets its own connection pool)."""
    url = redis_url(settings)
    key = (os.getpid(), url)
    client = _redis_clients.get(key)
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=30, health_check_interval=30)
        _redis_clients[key] = client
    return client


def wakeup(settings: Settings | None = None) -> Wakeup:
    return Wakeup(redis_client(settings))
