"""Prometheus collectors, read at scrape time: what the workers counted (Redis) and what the
queue and the audit hold (Postgres). Reading at scrape time means every process serving
/metrics reports the same figures, however many workers there are."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import redis
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from accounting.config import Settings
from accounting.domain.lanes import Lane
from accounting.services.audit import check_meanings, latest_run
from accounting.services.dispatcher import window_cost
from accounting.services.queue import QueueFigures, queue_figures, suggested_workers
from accounting.volatile.capacity import WorkerSlots
from accounting.volatile.counters import BUCKETS, THROUGHPUT_MINUTES, Counters, read_counters

if TYPE_CHECKING:
    from accounting.store.uow import UnitOfWork

log = logging.getLogger(__name__)


class QueueCollector(Collector):
    """Everything an operator and an autoscaler read: documents posted, failed and retried by
    lane, posting latency by lane, the backlog and its oldest document by lane, in flight,
    dead, the matrix cache, the dispatcher's window, and per lane its throughput and a
    suggested worker count (``ceil(backlog / (per-worker rate x drain target))``)."""

    def __init__(
        self,
        units: Callable[[], UnitOfWork],
        client: Callable[[], redis.Redis],
        settings: Settings,
    ) -> None:
        self._units = units
        self._client = client
        self._settings = settings

    def collect(self) -> Iterator[Metric]:
        slots = self._slots()
        yield from self._from_redis()
        if slots is not None:
            family = GaugeMetricFamily(
                "accounting_lane_worker_slots",
                "Consumer slots (worker processes) the workers announce per lane",
                labels=["lane"],
            )
            for lane in Lane:
                family.add_metric([lane], slots[lane])
            yield family
        yield from self._from_postgres(slots or {})

    def _slots(self) -> dict[Lane, int] | None:
        try:
            announcements = WorkerSlots(self._client())
            return {lane: announcements.live(lane) for lane in Lane}
        except redis.RedisError as exc:
            log.warning("worker slots unavailable: %s", exc)
            return None

    def _from_redis(self) -> Iterator[Metric]:
        try:
            counters = read_counters(self._client())
        except redis.RedisError as exc:  # a scrape must not fail because Redis is down
            log.warning("metrics from Redis unavailable: %s", exc)
            return
        totals = counters.totals
        for name, help_text in (
            ("posted", "Documents posted"),
            ("failed", "Documents that could not be posted (dead)"),
            ("postponed", "Documents postponed for a retry after an error"),
        ):
            family = CounterMetricFamily(f"accounting_documents_{name}", help_text, labels=["lane"])
            for lane in Lane:
                family.add_metric([lane], totals.get(f"{name}|{lane}", 0))
            yield family
        retries = CounterMetricFamily(
            "accounting_task_retries", "Task retries after a transient error", labels=["task"]
        )
        for name, value in totals.items():
            if name.startswith("retries|"):
                retries.add_metric([name.split("|", 1)[1]], value)
        yield retries
        for kind in ("hits", "misses", "errors"):
            yield CounterMetricFamily(
                f"accounting_matrix_cache_{kind}",
                f"Posting-matrix cache {kind}",
                value=totals.get(f"cache_{kind}", 0),
            )
        yield _latency_histogram(counters)
        throughput = GaugeMetricFamily(
            "accounting_lane_throughput_documents_per_second",
            f"Documents posted per second over the last {THROUGHPUT_MINUTES} whole minutes",
            labels=["lane"],
        )
        for lane in Lane:
            throughput.add_metric([lane], counters.throughput[lane])
        yield throughput

    def _from_postgres(self, slots: dict[Lane, int]) -> Iterator[Metric]:
        try:
            figures = queue_figures(self._units())
        except Exception as exc:  # a scrape must not fail because Postgres is down
            log.warning("metrics from Postgres unavailable: %s", exc)
            return
        yield from self._lanes(figures)
        yield GaugeMetricFamily(
            "accounting_in_flight_documents", "Documents handed to workers", value=figures.in_flight
        )
        yield GaugeMetricFamily(
            "accounting_dead_documents", "Documents given up on", value=figures.dead
        )
        yield GaugeMetricFamily(
            "accounting_dead_intake_messages",
            "Messages accepted but not applied, kept whole (accounting dead list --intake)",
            value=figures.dead_intake,
        )
        window = GaugeMetricFamily(
            "accounting_dispatcher_window_cost",
            "Estimated cost in flight per lane, and the dispatcher's limit on it",
            labels=["lane", "state"],
        )
        for lane in Lane:
            window.add_metric([lane, "in_flight"], figures.in_flight_cost[lane])
            window.add_metric(
                [lane, "limit"], window_cost(self._settings, lane, slots.get(lane, 0))
            )
        yield window

    def _lanes(self, figures: QueueFigures) -> Iterator[Metric]:
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
        per_worker = self._settings.scaling_documents_per_worker
        for lane in Lane:
            pending.add_metric([lane], figures.pending[lane])
            age.add_metric([lane], figures.oldest_pending_seconds[lane])
            suggested.add_metric([lane], suggested_workers(lane, figures.pending[lane], per_worker))
        yield from (pending, age, suggested)


def _latency_histogram(counters: Counters) -> Metric:
    family = HistogramMetricFamily(
        "accounting_posting_latency_seconds",
        "From a document becoming due (stored, changed or recreated) to its posting",
        labels=["lane"],
    )
    for lane, counts in counters.latencies.items():
        cumulative, buckets = 0.0, []
        for bound in (*(str(b) for b in BUCKETS), "+Inf"):
            cumulative += counts.get(bound, 0.0)
            buckets.append((bound, cumulative))
        family.add_metric([lane], buckets, sum_value=counts.get("sum", 0.0))
    return family


class AuditCollector(Collector):
    """``accounting_audit_findings{check}`` (alert on any > 0) and the time of the latest run
    (alert when it is too old: the nightly audit did not run)."""

    def __init__(self, units: Callable[[], UnitOfWork]) -> None:
        self._units = units

    def collect(self) -> Iterator[GaugeMetricFamily]:
        findings = GaugeMetricFamily(
            "accounting_audit_findings",
            "Findings of each check in the latest audit of all organizations",
            labels=["check"],
        )
        last_run = GaugeMetricFamily(
            "accounting_audit_last_run_timestamp_seconds",
            "When the latest audit of all organizations finished (0: never)",
        )
        try:
            run = latest_run(self._units())
        except Exception as exc:  # a scrape must not fail because Postgres is down
            log.warning("audit metrics unavailable: %s", exc)
            return
        for check in check_meanings():
            findings.add_metric([check], float(run.by_check.get(check, 0)) if run else 0.0)
        last_run.add_metric([], run.finished_at_epoch or 0.0 if run else 0.0)
        yield findings
        yield last_run
