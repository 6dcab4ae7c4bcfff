"""What the tasks tell the metrics: each posting's figures, each retry (see accounting.metrics)."""

from __future__ import annotations

from accounting import posting, runtime
from accounting.metrics import BatchFigures, MetricsRecorder

_recorder = MetricsRecorder(runtime.redis_client)


def record_posting(lane: str, result: posting.PostResult) -> None:
    figures = BatchFigures(
        lane=lane,
        posted=len(result.posted),
        failed=len(result.failed),
        postponed=len(result.postponed),
        latencies=tuple(result.latencies),
    )
    _recorder.record_batch(figures, posting.matrix_cache_counts_since_last_call())


def record_retry(task_name: str) -> None:
    _recorder.record_retry(task_name)
