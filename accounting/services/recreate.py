"""Use cases of recreation: a user's recreate makes new versions due on the high lane; a whole
organization is recreated in chunks on the normal lane, resumably."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from accounting.domain.events import JobAccepted, JobQueued, WorkArrived
from accounting.domain.lanes import Lane
from accounting.store.uow import UnitOfWork
from accounting_impact_client.documents import Rejection


@dataclass
class RecreateResult:
    versions: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    paused: bool = False


def request_recreate(
    uow: UnitOfWork,
    org_id: str,
    document_ids: Sequence[str],
    *,
    hold_seconds: float | None,
    lane: Lane = Lane.HIGH,
    job_id: str | None = None,
    requested_by: str | None = None,
) -> RecreateResult:
    """Make a new version of each document, due on ``lane`` (the high one, but for the FIFO
    baseline). With ``hold_seconds`` the caller means to post them itself (the fast path):
    the dispatcher leaves them alone that long; without it they are queued for the dispatcher
    at once. With a ``job_id`` the request is a job that waits for those versions."""
    result = RecreateResult()
    with uow:
        organization = uow.organizations.get_or_raise(org_id)
        result.paused = organization.paused
        unique_ids = list(dict.fromkeys(document_ids))
        known = uow.documents.existing_document_ids(org_id, unique_ids)
        result.rejected = [
            Rejection(i, "document_ids", f"no document {i!r} in organization {org_id!r}")
            for i in unique_ids
            if i not in known
        ]
        ids = [i for i in unique_ids if i in known]
        result.versions = uow.versions.request_recreate(
            org_id, ids, lane=lane, lease_seconds=hold_seconds
        )
        queued = job_id is not None and _record_job(uow, org_id, job_id, lane, result, requested_by)
        if hold_seconds is None and result.versions:
            uow.record(WorkArrived(), *([JobQueued(job_id)] if job_id and queued else []))
        uow.commit()
    return result


def _record_job(
    uow: UnitOfWork,
    org_id: str,
    job_id: str,
    lane: Lane,
    result: RecreateResult,
    requested_by: str | None,
) -> bool:
    """Record the recreate as a job and announce it; False for a job id seen before (the
    message delivered again), announced already."""
    if not uow.jobs.create(
        job_id,
        org_id,
        kind="recreate",
        lane=lane,
        versions=result.versions,
        requested_by=requested_by,
    ):
        return False
    rejected = tuple(result.rejected)
    uow.record(JobAccepted(job_id, org_id, "recreate", len(result.versions), rejected))
    return True


def start_recreate_all(uow: UnitOfWork, org_id: str) -> dt.datetime:
    """The mark of a new recreate of a whole organization: documents made ready before it are
    still to recreate. Keep it to resume an interrupted request."""
    with uow:
        uow.organizations.get_or_raise(org_id)
        return uow.documents.database_now()


def recreate_all(
    units: Callable[[], UnitOfWork],
    org_id: str,
    since: dt.datetime,
    *,
    chunk: int = 10_000,
    on_chunk: Callable[[int], None] = lambda _: None,
) -> int:
    """Give every document of the organization made ready before ``since`` a new version on the
    normal lane, ``chunk`` documents per transaction (the dispatcher starts on the first chunk
    while the next are requested). Interrupted, it resumes with the same ``since`` without
    touching what it already did. Returns how many it recreated this time."""
    recreated, after = 0, ""
    while True:
        with units() as uow:
            ids = uow.versions.recreate_next(org_id, after, since, chunk)
            if ids:
                uow.record(WorkArrived())
            uow.commit()
        if not ids:
            return recreated
        recreated, after = recreated + len(ids), ids[-1]
        on_chunk(len(ids))
