"""Use cases of jobs: where a job stands, and its place in its lane."""

from __future__ import annotations

from accounting.errors import JobNotCancellable, UnknownJob
from accounting.jobs_repository import JobProgress
from accounting.uow import UnitOfWork


def job_progress(uow: UnitOfWork, job_id: str) -> JobProgress | None:
    with uow:
        return uow.jobs.progress([job_id]).get(job_id)


def progress_of(uow: UnitOfWork, job_ids: list[str]) -> dict[str, JobProgress]:
    with uow:
        return uow.jobs.progress(job_ids)


def documents_ahead(uow: UnitOfWork, job_id: str) -> int | None:
    """Documents of the job's lane that became due before it and still wait."""
    with uow:
        return uow.jobs.documents_ahead(job_id)


def estimated_seconds(ahead: int, pending: int, documents_per_second: float) -> float | None:
    """When the job should be done at the lane's recent rate (None before any rate is known)."""
    if documents_per_second <= 0:
        return None
    return round((ahead + pending) / documents_per_second, 1)


def cancel_job(uow: UnitOfWork, org_id: str, job_id: str) -> tuple[int, JobProgress]:
    """Cancel what a recreate has not started: ``(documents taken back, where it stands)``.
    A sync cannot be cancelled: its documents are stored (pause the organization instead)."""
    with uow:
        progress = uow.jobs.progress([job_id]).get(job_id)
        if progress is None or progress.org_id != org_id:
            raise UnknownJob(f"no job {job_id[:64]!r} in organization {org_id[:64]!r}")
        if progress.kind != "recreate":
            raise JobNotCancellable(
                f"job {job_id!r} is a sync: its documents are stored; pause the organization"
            )
        taken_back = uow.jobs.cancel(job_id)
        progress = uow.jobs.progress([job_id])[job_id]
        uow.commit()
    return taken_back, progress


def open_jobs(uow: UnitOfWork, org_id: str, limit: int = 20) -> list[tuple[JobProgress, int]]:
    """The organization's unfinished jobs, oldest first, each with the documents ahead of it."""
    with uow:
        return [
            (job, uow.jobs.documents_ahead(job.job_id) or 0)
            for job in uow.jobs.open_jobs(org_id, limit)
        ]
