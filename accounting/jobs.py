"""Use cases of jobs: where a job stands, and its place in its lane."""

from __future__ import annotations

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
