"""The composition root: this process's handles built from the settings (the database engine,
Redis, the matrix cache) and units of work whose committed events reach Redis."""

from __future__ import annotations

import os
from collections.abc import Callable

import redis
from sqlalchemy import Engine

from accounting.config import Settings, get_settings
from accounting.domain.batching import Publish
from accounting.domain.lanes import Lane
from accounting.errors import PermanentError
from accounting.services import schema
from accounting.services.dispatcher import Dispatcher
from accounting.services.effects import Effects
from accounting.services.fast_path import FastPath
from accounting.services.jobs import JobAnnouncer
from accounting.services.schema import SchemaState
from accounting.store.engine import engine_for_process
from accounting.store.uow import UnitOfWork
from accounting.volatile.capacity import WorkerSlots
from accounting.volatile.counters import recent_throughput
from accounting.volatile.deliveries import Deliveries
from accounting.volatile.matrix_cache import MatrixCache
from accounting.volatile.outstanding import OutstandingBatches
from accounting.volatile.progress import ProgressStream
from accounting.volatile.ratelimit import RateLimiter
from accounting.volatile.wakeup import Wakeup

#: Per process (a forked child builds its own): pid -> handle.
_redis_clients: dict[tuple[int, str], redis.Redis] = {}
_matrix_caches: dict[int, MatrixCache] = {}


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
    """A unit of work whose committed events wake the dispatcher and reach job followers."""
    settings = settings or get_settings()
    return UnitOfWork(engine(settings), effects(settings))


def units(settings: Settings | None = None) -> Callable[[], UnitOfWork]:
    """A factory of :func:`unit_of_work`, for use cases that run several transactions."""
    return lambda: unit_of_work(settings)


def effects(settings: Settings | None = None) -> Effects:
    settings = settings or get_settings()
    jobs = JobAnnouncer(
        lambda: UnitOfWork(engine(settings)),
        lambda: progress_stream(settings),
        lambda lane: recent_rate(lane, settings),
    )
    return Effects(lambda: wakeup(settings).notify(), jobs)


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


def deliveries(settings: Settings | None = None) -> Deliveries:
    return Deliveries(redis_client(settings))


def progress_stream(settings: Settings | None = None) -> ProgressStream:
    settings = settings or get_settings()
    return ProgressStream(redis_client(settings), settings.progress_retention_seconds)


def matrix_cache(settings: Settings | None = None) -> MatrixCache | None:
    """This process's posting-matrix cache (None when ``ACCOUNTING_MATRIX_CACHE`` is off: the
    naive baseline reads Postgres every time)."""
    settings = settings or get_settings()
    if not settings.matrix_cache:
        return None
    cache = _matrix_caches.get(os.getpid())
    if cache is None:
        cache = MatrixCache(lambda: redis_client(settings) if settings.redis_url else None)
        _matrix_caches[os.getpid()] = cache
    return cache


def fast_path(settings: Settings | None = None) -> FastPath:
    settings = settings or get_settings()
    return FastPath(units(settings), settings, matrix_cache(settings))


def dispatcher(publish: Publish, holder: str | None = None) -> Dispatcher:
    settings = get_settings()
    return Dispatcher(
        units(settings),
        publish,
        wakeup(settings),
        settings,
        RateLimiter(redis_client(settings)),
        holder=holder,
        outstanding=outstanding(settings),
        broker_backlog=lambda lane: broker_backlog(lane, settings),
        slots=worker_slots(settings).live,
    )


def worker_slots(settings: Settings | None = None) -> WorkerSlots:
    return WorkerSlots(redis_client(settings))


def broker_backlog(lane: Lane, settings: Settings | None = None) -> int:
    """Messages waiting in the lane's broker queue, every priority (kombu's Redis transport
    keeps one list per priority step: the queue's name, then with ``\x06\x16<step>``)."""
    client = redis_client(settings)
    names = [lane.queue, *(f"{lane.queue}\x06\x16{step}" for step in (3, 6, 9))]
    return sum(int(client.llen(name)) for name in names)


def outstanding(settings: Settings | None = None) -> OutstandingBatches:
    settings = settings or get_settings()
    return OutstandingBatches(redis_client(settings), ttl_seconds=24 * 3600)


def schema_state(settings: Settings | None = None) -> SchemaState:
    """Where this process's database stands against the code (raises when unreachable)."""
    return schema.schema_state(engine(settings))


def recent_rate(lane: Lane, settings: Settings | None = None) -> float | None:
    """The lane's posting rate over the last minutes, or None when Redis cannot say."""
    try:
        return recent_throughput(redis_client(settings), lane)
    except redis.RedisError:
        return None
