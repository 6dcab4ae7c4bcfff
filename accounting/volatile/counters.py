"""Metrics counters that add up across processes and machines: what each worker counts goes to
Redis (one pipeline per batch), so one scrape of one service sees every prefork process on
every host. A Redis flush resets them; Prometheus's ``rate()`` treats that as a counter reset."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import redis

from accounting.domain.lanes import Lane
from accounting.volatile import keys

log = logging.getLogger(__name__)

#: Upper bounds (seconds) of the posting-latency histogram.
BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
#: Throughput is measured over this many whole minutes.
THROUGHPUT_MINUTES = 5


def _latency_key(lane: Lane) -> str:
    return f"{keys.METRICS}latency:{lane}"


def _minute_key(lane: Lane, minute: int) -> str:
    return f"{keys.METRICS}posted:{lane}:{minute}"


@dataclass(frozen=True)
class BatchFigures:
    """What one batch did, as the worker that posted it saw it."""

    lane: Lane
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
        lane = figures.lane
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
                    pipe.hincrby(keys.METRICS_COUNTERS, name, value)
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
            self._client().hincrby(keys.METRICS_COUNTERS, f"retries|{task}", 1)
        except redis.RedisError as exc:
            log.warning("metrics not recorded: %s", exc)


def recent_throughput(client: redis.Redis, lane: Lane) -> float:
    """Documents per second the lane posted over the last whole minutes (0 when unknown)."""
    minute = int(time.time() // 60)
    minute_keys = [_minute_key(lane, minute - n) for n in range(1, THROUGHPUT_MINUTES + 1)]
    return sum(int(v) for v in client.mget(minute_keys) if v) / (THROUGHPUT_MINUTES * 60)


@dataclass(frozen=True)
class Counters:
    """Everything the workers counted, as one scrape reads it."""

    #: ``posted|high``, ``failed|normal``, ``retries|<task>``, ``cache_hits``, ...
    totals: dict[str, int]
    #: Per lane: histogram bucket upper bound (as text, and "+Inf") or "sum" -> value.
    latencies: dict[Lane, dict[str, float]]
    #: Per lane: documents per second over the last whole minutes.
    throughput: dict[Lane, float]


def read_counters(client: redis.Redis) -> Counters:
    totals = {keys.text(k): int(v) for k, v in client.hgetall(keys.METRICS_COUNTERS).items()}
    latencies = {
        lane: {keys.text(k): float(v) for k, v in client.hgetall(_latency_key(lane)).items()}
        for lane in Lane
    }
    throughput = {lane: recent_throughput(client, lane) for lane in Lane}
    return Counters(totals, latencies, throughput)


def _bucket(seconds: float) -> str:
    return next((str(bound) for bound in BUCKETS if seconds <= bound), "+Inf")
