"""One chaos run: own servers, real workers, the workload and the faults; then the verdict,
read from Postgres."""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import Progress

from accounting import demo_data, runtime
from accounting.config import get_settings
from accounting.domain.lanes import Lane
from accounting.services import audit, schema
from accounting.services.documents import document_states
from accounting.services.queue import pending_count
from accounting.store.documents import DocumentState
from accounting_impact_client import documents
from tasks.tools.chaos.faults import CONCURRENCY, FaultInjector
from tasks.tools.chaos.hostile import HostileTenant
from tasks.tools.chaos.servers import ChaosServices, bouncer_installed, chaos_services
from tasks.tools.chaos.workload import Workload


@dataclass(frozen=True)
class ChaosOptions:
    documents: int = 100_000
    orgs: int = 4
    seed: int = 1
    fault_every: float = 5.0
    rate: float = 0.0
    update_share: float = 0.05
    recreate_every: float = 0.5
    lease_seconds: int = 15
    timeout: float = 1800.0
    normal_workers: int = 2
    high_workers: int = 1
    #: Seconds Redis is down in an outage (Postgres and PgBouncer 1 to 1.5 times as long).
    outage: float = 60.0


@dataclass
class Verdict:
    expected: int
    posted: int
    #: Not posted at the content last acknowledged, by reason.
    lost: dict[str, int]
    duplicated: int
    unbalanced: int
    faults: dict[str, int]
    seconds: float
    figures: dict[str, Any] = field(default_factory=dict)
    #: ``accounting audit``'s checks after the run: {check: findings}.
    audit_findings: dict[str, int] = field(default_factory=dict)
    #: The hostile messages sent, by kind, and how many of them ended in the dead intake
    #: (refused for their size, or quarantined as poison): all of them must.
    hostile_sent: dict[str, int] = field(default_factory=dict)
    hostile_kept: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        clean = not any(self.audit_findings.values())
        hostile = all(self.hostile_kept.get(k, 0) == n for k, n in self.hostile_sent.items())
        accounted = not sum(self.lost.values()) and not self.duplicated and not self.unbalanced
        return clean and hostile and accounted

    def as_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "posted": self.posted,
            "lost": sum(self.lost.values()),
            "duplicated": self.duplicated,
            "unbalanced": self.unbalanced,
            "faults": self.faults,
            "lost_by_reason": self.lost,
            "audit_findings": self.audit_findings,
            "hostile_sent": self.hostile_sent,
            "hostile_kept": self.hostile_kept,
            "seconds": round(self.seconds, 1),
            **self.figures,
        }


def run(options: ChaosOptions, data_dir: Path, progress: Progress) -> Verdict:
    with chaos_services(data_dir, use_bouncer=bouncer_installed()) as chaos:
        _point_at(chaos, options)
        schema.upgrade(chaos.direct_url)  # DDL straight to Postgres, not through the pooler
        orgs = [_new_org(f"chaos-{n}") for n in range(options.orgs)]
        hostile = HostileTenant(orgs[0], _new_org("chaos-poison"), chaos.direct_url)
        workload = Workload(
            orgs,
            options.documents,
            options.seed,
            options.rate,
            options.update_share,
            options.recreate_every,
        )
        with _workers(data_dir / "logs", options) as pool:
            faults = FaultInjector(
                chaos,
                pool,
                options.seed,
                options.fault_every,
                workload.redeliver_stale,
                hostile,
                options.outage,
            )
            started = time.monotonic()
            threads = (
                workload.load,
                workload.update,
                workload.recreate,
                faults.run,
                faults.supervise,
            )
            with _threads(*threads) as failed:
                try:
                    _await_sync(workload, faults, progress, options, failed)
                    workload.stop.set()
                    faults.stop_faults()
                    _await_drained(chaos, orgs, progress, options.timeout)
                finally:
                    workload.stop.set()
                    faults.stop_faults()
                    faults.stop.set()
            seconds = time.monotonic() - started
        verdict = _verdict(workload, orgs, faults, seconds)
        verdict.hostile_sent = {kind: len(ids) for kind, ids in hostile.sent.items()}
        verdict.hostile_kept = hostile.kept()
        verdict.figures |= {
            "documents_per_s": round(options.documents / seconds),
            "updates": workload.counters.updates,
            "recreates": workload.counters.recreates_sent,
            "resent_chunks": workload.counters.resent_chunks,
            "not_accepted_chunks": workload.counters.not_accepted_chunks,
            "through_pgbouncer": chaos.bouncer is not None,
            "worker_crashes": len(faults.crashed),
            "timeline": [(round(at, 1), kind, target) for at, kind, target in faults.timeline],
        }
        return verdict


def _point_at(chaos: ChaosServices, options: ChaosOptions) -> None:
    """This process and the workers it starts use the chaos servers (tasks.app reads the
    settings when first imported, which must be after this)."""
    os.environ["ACCOUNTING_DATABASE_URL"] = chaos.database_url
    os.environ["ACCOUNTING_REDIS_URL"] = chaos.redis.url
    os.environ["ACCOUNTING_LEASE_SECONDS"] = str(options.lease_seconds)
    get_settings.cache_clear()


def _new_org(org_id: str) -> str:
    demo_data.seed_organization(runtime.units(), org_id)
    return org_id


@contextmanager
def _workers(log_dir: Path, options: ChaosOptions) -> Iterator[Any]:
    from tasks.app import app
    from tasks.tools.worker_pool import worker_pool

    env = {k: v for k, v in os.environ.items() if k.startswith("ACCOUNTING_")}
    with worker_pool(app, env, log_dir) as pool:
        for queue, count in (
            ("accounting.normal", options.normal_workers),
            ("accounting.high", options.high_workers),
        ):
            for _ in range(count):
                pool.start(queue, concurrency=CONCURRENCY[queue])
        pool.wait_ready()
        yield pool


@contextmanager
def _threads(*targets: Callable[[], None]) -> Iterator[list[str]]:
    """Run each target in a thread; the yielded list collects the failures."""
    failed: list[str] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except Exception:
            failed.append(traceback.format_exc())

    threads = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    try:
        yield failed
    finally:
        for thread in threads:
            thread.join(timeout=120)


def _await_sync(
    workload: Workload,
    faults: FaultInjector,
    progress: Progress,
    options: ChaosOptions,
    failed: list[str],
) -> None:
    """Until every document and update is acknowledged and every kind of fault was injected."""
    task = progress.add_task("documents acknowledged", total=options.documents)
    deadline = time.monotonic() + options.timeout
    while not (workload.loaded.is_set() and workload.updated.is_set() and faults.covered()):
        if failed:
            raise RuntimeError("a chaos thread failed:\n" + "\n".join(failed))
        if time.monotonic() > deadline:
            raise TimeoutError(f"chaos: the workload did not finish within {options.timeout} s")
        injected = sum(faults.injected.values())
        progress.update(
            task,
            completed=workload.counters.acknowledged,
            description=f"documents acknowledged, {injected} faults",
        )
        time.sleep(0.2)
    progress.update(task, completed=workload.counters.acknowledged)


def _await_drained(
    chaos: ChaosServices, orgs: list[str], progress: Progress, timeout: float
) -> None:
    """Until nothing is pending in Postgres and no message waits in Redis (a recreate still
    queued would change a document after the verdict)."""
    task = progress.add_task("pending after the faults", total=None)
    deadline = time.monotonic() + timeout
    while True:
        try:
            pending = pending_count(runtime.unit_of_work(), orgs)
            queued = sum(runtime.broker_backlog(lane) for lane in Lane)
        except Exception:  # a fault's last effects: ask again
            pending, queued = -1, -1
        progress.update(task, description=f"pending {pending:,}, queued messages {queued}")
        if pending == 0 and queued == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"chaos: {pending} documents still pending after {timeout} s")
        time.sleep(0.5)


def _verdict(workload: Workload, orgs: list[str], faults: FaultInjector, seconds: float) -> Verdict:
    lost: dict[str, int] = {}
    posted = duplicated = 0
    for org in orgs:
        for state in document_states(runtime.unit_of_work(), org):
            expected = workload.expected.get((org, state.id))
            if expected is None:
                continue
            reason = _why_not_posted(state, expected)
            if reason:
                lost[reason] = lost.get(reason, 0) + 1
            else:
                posted += 1
            duplicated += len(state.active_versions) > 1 or state.repeated_entries > 0
    missing = len(workload.expected) - posted - sum(lost.values())
    if missing:
        lost["never stored"] = missing
    # The audit checks the rest: balance, the active sets, nothing stuck pending.
    report = audit.run_audit(runtime.unit_of_work())
    checks = {result.check: result.count for result in report.results}
    unbalanced = (
        checks["entry_unbalanced_in_currency"] + checks["entry_unbalanced_in_functional_currency"]
    )
    verdict = Verdict(
        len(workload.expected),
        posted,
        lost,
        duplicated,
        unbalanced,
        dict(faults.injected),
        seconds,
    )
    verdict.audit_findings = checks
    return verdict


def _why_not_posted(state: DocumentState, expected: dict[str, Any]) -> str | None:
    validated, _ = documents.validate_documents([expected])
    if state.content_hash != documents.content_hash(validated[0]):
        return "older content stored"
    if state.failed_version == state.ready_version:
        return "dead"
    if state.posted_version != state.ready_version:
        return "not posted at its latest version"
    if state.active_versions != (state.ready_version,):
        return "active entries not at its latest version"
    return None
