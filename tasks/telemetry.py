"""What the tasks tell the metrics: each posting's figures and the matrix cache's use, each
retry (see accounting.volatile.counters)."""

from __future__ import annotations

from dataclasses import replace

from accounting import runtime
from accounting.domain.lanes import Lane
from accounting.services.posting import PostResult
from accounting.volatile.counters import BatchFigures, MetricsRecorder
from accounting.volatile.matrix_cache import CacheStats, MatrixCache

_recorder = MetricsRecorder(runtime.redis_client)


class _CacheMeter:
    """This process's matrix-cache counts since the previous reading."""

    def __init__(self) -> None:
        self._cache: MatrixCache | None = None
        self._seen = CacheStats()

    def read(self) -> dict[str, int]:
        cache = runtime.matrix_cache()
        if cache is None:
            return {}
        if cache is not self._cache:  # a forked child's own cache
            self._cache, self._seen = cache, CacheStats()
        delta = cache.stats.since(self._seen)
        self._seen = replace(cache.stats)
        return delta


_cache_meter = _CacheMeter()


def record_posting(lane: Lane, result: PostResult) -> None:
    figures = BatchFigures(
        lane=lane,
        posted=len(result.posted),
        failed=len(result.failed),
        postponed=len(result.postponed),
        latencies=tuple(result.latencies),
    )
    _recorder.record_batch(figures, _cache_meter.read())


def record_retry(task_name: str) -> None:
    _recorder.record_retry(task_name)
