"""Throughput: the normal lane (dispatcher, batches, cache) against a naive baseline (one
Celery task and one transaction per document, the matrix read from Postgres every time)."""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass

import psutil

from accounting import demo_data, runtime
from accounting.services.queue import pending_count, set_paused, status
from tasks.tools.bench.harness import Bench, wait_until

ORGS = 4
#: The naive baseline's workers: no dispatcher, no matrix cache.
NAIVE = {"ACCOUNTING_RUN_DISPATCHER": "false", "ACCOUNTING_MATRIX_CACHE": "false"}


@dataclass(frozen=True)
class ThroughputRun:
    mode: str
    documents: int
    seconds: float
    cpu_seconds: float

    @property
    def docs_per_s(self) -> float:
        return self.documents / self.seconds

    @property
    def cpu_ms_per_doc(self) -> float:
        return self.cpu_seconds * 1000 / self.documents


def run(bench: Bench, mode: str, documents: int, timeout: float) -> ThroughputRun:
    """Store ``documents`` (a realistic mix, spread over several organizations) while nothing
    posts them; then time posting all of them, from the start signal to the last commit.
    CPU is the whole machine's (workers, Postgres, Redis), as busy seconds."""
    orgs = [bench.new_org(f"{mode}-{n}") for n in range(ORGS)]
    shares = {org: documents // ORGS + (n < documents % ORGS) for n, org in enumerate(orgs)}
    with bench.abandoning(orgs), bench.progress() as progress, ExitStack() as held:
        for org in orgs:
            held.enter_context(bench.held(org))
            bench.load(org, shares[org], f"{org}-doc", progress)
        workers = bench.workers(mode, settings=NAIVE if mode == "naive" else {})
        held.enter_context(workers)
        task = progress.add_task(f"{mode}: post {documents:,} documents", total=documents)
        cpu_before, started = _busy_cpu_seconds(), time.monotonic()
        if mode == "naive":
            _send_one_task_per_document(shares)
        else:
            for org in orgs:
                set_paused(runtime.unit_of_work(), org, False)

        def all_posted() -> bool:
            pending = pending_count(runtime.unit_of_work(), orgs)
            progress.update(task, completed=documents - pending)
            return pending == 0

        wait_until(all_posted, timeout, f"{mode}: every document posted", interval=0.25)
        seconds, cpu = time.monotonic() - started, _busy_cpu_seconds() - cpu_before
        dead = sum(status(runtime.unit_of_work(), org)["dead"] for org in orgs)
        if dead:
            raise RuntimeError(f"{mode}: {dead} documents could not be posted")
    return ThroughputRun(mode, documents, seconds, cpu)


def _send_one_task_per_document(shares: dict[str, int]) -> None:
    from tasks.baseline import post_document

    for org, count in shares.items():
        for n in range(count):
            post_document.delay(org, demo_data.document_id(f"{org}-doc", n), 1)


def _busy_cpu_seconds() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))
