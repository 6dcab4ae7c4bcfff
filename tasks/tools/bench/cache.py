"""Cache: how long resolving a posting matrix takes from Postgres, from Redis, in process."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from accounting import runtime
from accounting.domain.matrix import PostingMatrix
from accounting.volatile.matrix_cache import MatrixCache, matrix_key
from tasks.tools.bench.harness import Bench


@dataclass(frozen=True)
class CacheRun:
    iterations: int
    rules: int
    postgres_us: float
    redis_us: float
    in_process_us: float

    def figures(self) -> dict[str, float]:
        return {
            "iterations": self.iterations,
            "rules": self.rules,
            "postgres_us": round(self.postgres_us, 1),
            "redis_us": round(self.redis_us, 1),
            "in_process_us": round(self.in_process_us, 2),
            "redis_speedup": round(self.postgres_us / self.redis_us, 1),
            "in_process_speedup": round(self.postgres_us / self.in_process_us, 1),
        }


def run(bench: Bench, iterations: int) -> CacheRun:
    """Median time of one resolution: a unit of work reading the rules from Postgres (what
    the naive path does for every document); a cold process reading Redis; the LRU."""
    org = bench.new_org("cache")
    with runtime.unit_of_work() as uow:
        organization = uow.organizations.get(org)
    assert organization is not None and organization.matrix_version is not None
    version = organization.matrix_version
    key = matrix_key(org, version, organization.matrix_published_at)

    def from_postgres() -> PostingMatrix:
        with runtime.unit_of_work() as uow:
            return uow.matrices.load_matrix(org, version)

    def not_expected() -> PostingMatrix:
        raise AssertionError("the matrix should have come from a cache")

    redis_client = runtime.redis_client()
    warm = MatrixCache(lambda: redis_client)
    matrix = warm.get(key, from_postgres)  # into Redis and the LRU
    postgres = _median_us(iterations, from_postgres)
    redis = _median_us(iterations, lambda: MatrixCache(lambda: redis_client).get(key, not_expected))
    local = _median_us(iterations, lambda: warm.get(key, not_expected))
    return CacheRun(iterations, len(matrix.rules), postgres, redis, local)


def _median_us(iterations: int, resolve: Callable[[], PostingMatrix]) -> float:
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        resolve()
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)
