"""The audit's alert metrics, read from the latest recorded run whenever Prometheus scrapes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from accounting.audit import latest_run
from accounting.audit_repository import CHECKS
from accounting.uow import UnitOfWork

log = logging.getLogger(__name__)


class AuditCollector(Collector):
    """``accounting_audit_findings{check}`` (alert on any > 0) and the time of the latest run
    (alert when it is too old: the nightly audit did not run). Register it on the registry a
    /metrics endpoint serves; reading Postgres at scrape time means every process reports the
    same figures, however many workers there are."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

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
            run = latest_run(self._unit_of_work())
        except Exception as exc:  # a scrape must not fail because Postgres is down
            log.warning("audit metrics unavailable: %s", exc)
            return
        for check in CHECKS:
            findings.add_metric([check], float(run.by_check.get(check, 0)) if run else 0.0)
        last_run.add_metric([], run.finished_at_epoch or 0.0 if run else 0.0)
        yield findings
        yield last_run
