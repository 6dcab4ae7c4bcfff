"""The matrix cache: in-process LRU, then Redis, then the loader (Postgres)."""

from __future__ import annotations

import datetime as dt

import fakeredis
import pytest
import redis

from accounting import demo_data
from accounting.domain.matrix import PostingMatrix
from accounting.volatile.matrix_cache import MatrixCache, matrix_key

PUBLISHED = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


class Loader:
    def __init__(self, version: int = 2) -> None:
        self.calls = 0
        self.version = version

    def __call__(self) -> PostingMatrix:
        self.calls += 1
        matrix = demo_data.matrix("acme")
        return PostingMatrix("acme", self.version, matrix.rules)


@pytest.fixture
def shared_redis() -> redis.Redis:
    return fakeredis.FakeRedis()


def test_a_miss_loads_once_then_hits_in_process(shared_redis: redis.Redis) -> None:
    cache, load = MatrixCache(lambda: shared_redis), Loader()
    key = matrix_key("acme", 2, PUBLISHED)
    first = cache.get(key, load)
    assert cache.get(key, load) is first
    assert (load.calls, cache.stats.misses, cache.stats.local_hits) == (1, 1, 1)


def test_another_process_reads_the_matrix_from_redis(shared_redis: redis.Redis) -> None:
    key = matrix_key("acme", 2, PUBLISHED)
    MatrixCache(lambda: shared_redis).get(key, Loader())
    other, load = MatrixCache(lambda: shared_redis), Loader()
    assert other.get(key, load) == Loader()()
    assert (load.calls, other.stats.redis_hits) == (0, 1)


def test_a_new_version_or_a_rebuilt_database_is_a_new_key(shared_redis: redis.Redis) -> None:
    cache = MatrixCache(lambda: shared_redis)
    cache.get(matrix_key("acme", 2, PUBLISHED), Loader(2))
    newer, rebuilt = Loader(3), Loader(2)
    assert cache.get(matrix_key("acme", 3, PUBLISHED), newer).version == 3
    cache.get(matrix_key("acme", 2, PUBLISHED + dt.timedelta(seconds=1)), rebuilt)
    assert (newer.calls, rebuilt.calls) == (1, 1)


def test_with_redis_down_the_cache_reads_postgres(shared_redis: redis.Redis) -> None:
    down = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    down.connection_pool.connection_kwargs["server"].connected = False
    cache, load = MatrixCache(lambda: down), Loader()
    assert cache.get(matrix_key("acme", 2, PUBLISHED), load).version == 2
    assert load.calls == 1
    assert cache.stats.redis_errors == 2  # the read and the write
