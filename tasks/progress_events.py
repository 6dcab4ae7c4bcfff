"""What the tasks tell the people following a job: its events, published after each commit
(see accounting.progress)."""

from __future__ import annotations

import logging
from typing import Any

from accounting import jobs, runtime
from accounting.config import get_settings
from accounting.jobs_repository import JobProgress
from accounting.metrics import recent_throughput
from accounting.progress import ProgressStream

log = logging.getLogger(__name__)


def _stream() -> ProgressStream:
    return ProgressStream(runtime.redis_client(), get_settings().progress_retention_seconds)


def accepted(job_id: str, org_id: str, kind: str, total: int) -> None:
    """A new job: its size, then its place in the queue (or ``done`` when nothing is due)."""
    counts: dict[str, Any] = {"posted": 0, "failed": 0, "total": total}
    events: list[tuple[str, dict[str, Any]]] = [
        ("accepted", {"job_id": job_id, "org_id": org_id, "kind": kind, "total": total})
    ]
    if total == 0:
        events.append(("done", counts))
    _stream().publish(job_id, events)


def queued(job_id: str) -> None:
    try:
        progress = jobs.job_progress(runtime.unit_of_work(), job_id)
        ahead = jobs.documents_ahead(runtime.unit_of_work(), job_id)
        if progress is None or ahead is None or progress.done:
            return
        rate = recent_throughput(runtime.redis_client(), progress.lane)
    except Exception as exc:  # progress is a view: never fail the job for it
        log.warning("queue place of job %s unknown: %s", job_id, exc, extra={"job_id": job_id})
        return
    eta = jobs.estimated_seconds(ahead, progress.pending, rate)
    place = {"lane": progress.lane, "ahead": ahead, "pending": progress.pending}
    _stream().publish(job_id, [("queued", place | {"eta_seconds": eta})])


def moved(failures_by_job: dict[str, dict[str, str]]) -> None:
    """After a posting's commit: where each job it moved on stands now."""
    if not failures_by_job:
        return
    try:
        progress = jobs.progress_of(runtime.unit_of_work(), sorted(failures_by_job))
    except Exception as exc:  # progress is a view: never fail the posting for it
        log.warning("progress of jobs %s unknown: %s", sorted(failures_by_job), exc)
        return
    stream = _stream()
    for job_id, job in progress.items():
        stream.publish_progress(job, failures_by_job[job_id])


def cancelled(job_id: str, taken_back: int, progress: JobProgress) -> None:
    stream = _stream()
    stream.publish(job_id, [("cancelled", {"documents": taken_back})])
    stream.publish_progress(progress, {})
