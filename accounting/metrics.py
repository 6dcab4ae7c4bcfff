"""Prometheus metrics that hold across processes and machines: what workers count goes to Redis
(one pipeline per batch), what the queue holds is read from Postgres when Prometheus scrapes.

Any number of prefork processes on any number of hosts add to the same Redis counters, so
one scrape of one service sees them all. A Redis flush resets them; Prometheus's ``rate()``
treats that as a counter reset."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import redis
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from accounting.config import Settings
from accounting.uow import UnitOfWork

log = logging.getLogger(__name__)

PREFIX = "accounting:metrics:"
COUNTERS = f"{PREFIX}counters"
LANES = ("high", "normal")
#: Upper bounds (seconds) of the posting-latency histogram.
BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
#: Throughput is measured over this many whole minutes.
THROUGHPUT_MINUTES = 5
#: How soon each lane's backlog should be drained, for the suggested worker count.
DRAIN_SECONDS = {"high": 5.0, "normal": 300.0}


def _latency_key(lane: str) -> str:
    return f"{PREFIX}latency:{lane}"


def _minute_key(lane: str, minute: int) -> str:
    return f"{PREFIX}posted:{lane}:{minute}"


@dataclass(frozen=True)
class BatchFigures:
    """What one batch did, as the worker that posted it saw it."""

    lane: str
    posted: int
    failed: int
    postponed: int
    #: Seconds from each posted document becoming due to its posting.
    latencies: tuple[float, ...]


class MetricsRecorder:
    """Adds a worker's figures to the shared counters; never fails the work it measures."""

    def __init__(self, client: Callable[[], redis.Redis]) -> None:
        self._client = client

    def record_batch(self, figures: BatchFigures, cache_delta: Mapping[str, int]) -> None:
        lane = figures.lane if figures.lane in LANES else "normal"
        minute = int(time.time() // 60)
        try:
            pipe = self._client().pipeline(transaction=False)
            for name, value in (
                (f"posted|{lane}", figures.posted),
                (f"failed|{lane}", figures.failed),
                (f"postponed|{lane}", figures.postponed),
                *((f"cache_{kind}", count) for kind, count in cache_delta.items()),
            ):
                if value:
                    pipe.hincrby(COUNTERS, name, value)
            for seconds in figures.latencies:
                pipe.hincrby(_latency_key(lane), _bucket(seconds), 1)
                pipe.hincrbyfloat(_latency_key(lane), "sum", seconds)
            if figures.posted:
                pipe.incrby(_minute_key(lane, minute), figures.posted)
                pipe.expire(_minute_key(lane, minute), (THROUGHPUT_MINUTES + 2) * 60)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("metrics not recorded: %s", exc)

    def record_retry(self, task: str) -> None:
        try:
            self._client().hincrby(COUNTERS, f"retries|{task}", 1)
        except redis.RedisError as exc:
            log.warning("metrics not recorded: %s", exc)


def recent_throughput(client: redis.Redis, lane: str) -> float:
    """Documents per second the lane posted over the last whole minutes (0 when unknown)."""
    minute = int(time.time() // 60)
    keys = [_minute_key(lane, minute - n) for n in range(1, THROUGHPUT_MINUTES + 1)]
    return sum(int(v) for v in client.mget(keys) if v) / (THROUGHPUT_MINUTES * 60)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bucket(seconds: float) -> str:
    return next((str(bound) for bound in BUCKETS if seconds <= bound), "+Inf")


class QueueCollector(Collector):
    """Everything an operator and an autoscaler read: documents posted, failed and retried by
    lane, posting latency by lane, the backlog and its oldest document by lane, in flight,
    dead, the matrix cache, the dispatcher's window, and per lane its throughput and a
    suggested worker count (``ceil(backlog / (per-worker rate x drain target))``)."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        client: Callable[[], redis.Redis],
        settings: Settings,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._client = client
        self._settings = settings

    def collect(self) -> Iterator[Metric]:
        yield from self._from_redis()
        yield from self._from_postgres()

    def _from_redis(self) -> Iterator[Metric]:
        try:
            client = self._client()
            counters = {_text(k): int(v) for k, v in client.hgetall(COUNTERS).items()}
            latencies = {
                lane: {_text(k): float(v) for k, v in client.hgetall(_latency_key(lane)).items()}
                for lane in LANES
            }
            recent = {lane: recent_throughput(client, lane) for lane in LANES}
        except redis.RedisError as exc:  # a scrape must not fail because Redis is down
            log.warning("metrics from Redis unavailable: %s", exc)
            return
        for name, help_text in (
            ("posted", "Documents posted"),
            ("failed", "Documents that could not be posted (dead)"),
            ("postponed", "Documents postponed for a retry after an error"),
        ):
            family = CounterMetricFamily(f"accounting_documents_{name}", help_text, labels=["lane"])
            for lane in LANES:
                family.add_metric([lane], counters.get(f"{name}|{lane}", 0))
            yield family
        retries = CounterMetricFamily(
            "accounting_task_retries", "Task retries after a transient error", labels=["task"]
        )
        for name, value in counters.items():
            if name.startswith("retries|"):
                retries.add_metric([name.split("|", 1)[1]], value)
        yield retries
        for kind in ("hits", "misses", "errors"):
            yield CounterMetricFamily(
                f"accounting_matrix_cache_{kind}",
                f"Posting-matrix cache {kind}",
                value=counters.get(f"cache_{kind}", 0),
            )
        yield self._latency_histogram(latencies)
        throughput = GaugeMetricFamily(
            "accounting_lane_throughput_documents_per_second",
            f"Documents posted per second over the last {THROUGHPUT_MINUTES} whole minutes",
            labels=["lane"],
        )
        for lane in LANES:
            throughput.add_metric([lane], recent[lane])
        yield throughput

    def _latency_histogram(self, latencies: dict[str, dict[str, float]]) -> Metric:
        family = HistogramMetricFamily(
            "accounting_posting_latency_seconds",
            "From a document becoming due (stored, changed or recreated) to its posting",
            labels=["lane"],
        )
        for lane, counts in latencies.items():
            cumulative, buckets = 0.0, []
            for bound in (*(str(b) for b in BUCKETS), "+Inf"):
                cumulative += counts.get(bound, 0.0)
                buckets.append((bound, cumulative))
            family.add_metric([lane], buckets, sum_value=counts.get("sum", 0.0))
        return family

    def _from_postgres(self) -> Iterator[Metric]:
        try:
            with self._unit_of_work() as uow:
                counts = uow.queue.status_counts()
                oldest = uow.queue.oldest_pending_age_seconds()
                in_flight_cost = sum(cost for _, cost in uow.queue.in_flight_by_org().values())
        except Exception as exc:  # a scrape must not fail because Postgres is down
            log.warning("metrics from Postgres unavailable: %s", exc)
            return
        pending = GaugeMetricFamily(
            "accounting_pending_documents", "Documents waiting to be posted", labels=["lane"]
        )
        age = GaugeMetricFamily(
            "accounting_oldest_pending_age_seconds",
            "How long the oldest waiting document has waited",
            labels=["lane"],
        )
        suggested = GaugeMetricFamily(
            "accounting_lane_suggested_workers",
            "Worker processes that would drain the lane's backlog in its target time",
            labels=["lane"],
        )
        for lane in LANES:
            backlog = counts[f"pending_{lane}"]
            pending.add_metric([lane], backlog)
            age.add_metric([lane], oldest.get(lane, 0.0))
            suggested.add_metric([lane], self.suggested_workers(lane, backlog))
        yield pending
        yield age
        yield suggested
        yield GaugeMetricFamily(
            "accounting_in_flight_documents",
            "Documents handed to workers",
            value=counts["in_flight"],
        )
        yield GaugeMetricFamily(
            "accounting_dead_documents", "Documents given up on", value=counts["dead"]
        )
        window = GaugeMetricFamily(
            "accounting_dispatcher_window_cost",
            "Estimated cost in flight, and the dispatcher's limit on it",
            labels=["state"],
        )
        window.add_metric(["in_flight"], in_flight_cost)
        window.add_metric(["limit"], self._settings.batch_cost * self._settings.window_batches)
        yield window

    def suggested_workers(self, lane: str, backlog: int) -> int:
        rate = self._settings.scaling_documents_per_worker
        return max(1, math.ceil(backlog / (rate * DRAIN_SECONDS[lane])))
