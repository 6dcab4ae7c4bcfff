"""Use cases of jobs: where a job stands, its place in its lane, cancelling a recreate, and
telling a job's followers (its progress stream) what Postgres says of it after each commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from accounting.domain.events import JobAccepted, JobCancelled
from accounting.domain.jobs import JobProgress, accepted_events, estimated_seconds, refused_event
from accounting.domain.lanes import Lane
from accounting.errors import JobNotCancellable, UnknownJob
from accounting.store.leases import Buried
from accounting.store.uow import UnitOfWork
from accounting.volatile.progress import ProgressStream
from accounting_impact_client.limits import MAX_ID_LENGTH

log = logging.getLogger(__name__)


def job_progress(uow: UnitOfWork, job_id: str) -> JobProgress | None:
    with uow:
        return uow.jobs.progress([job_id]).get(job_id)


def progress_of(uow: UnitOfWork, job_ids: Sequence[str]) -> dict[str, JobProgress]:
    with uow:
        return uow.jobs.progress(job_ids)


def documents_ahead(uow: UnitOfWork, job_id: str) -> int | None:
    """Documents of the job's lane that became due before it and still wait."""
    with uow:
        return uow.jobs.documents_ahead(job_id)


def place_in_lane(uow: UnitOfWork, job_id: str) -> tuple[JobProgress, int] | None:
    """Where an unfinished job stands and the documents ahead of it, in one transaction
    (None for an unknown or finished job)."""
    with uow:
        progress = uow.jobs.progress([job_id]).get(job_id)
        if progress is None or progress.done:
            return None
        return progress, uow.jobs.documents_ahead(job_id) or 0


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
        uow.record(JobCancelled(job_id, taken_back))
        uow.commit()
    return taken_back, progress


def refuse(
    uow: UnitOfWork, stream: ProgressStream, job_id: str, *, org_id: object, error: Exception
) -> bool:
    """Tell the followers of a request that failed for good before it was recorded as a job
    (an unknown organization, a payload this worker does not take, a call over a limit) why,
    in one terminal ``refused`` event; without it they would wait for a job that never comes.
    A job recorded under that id has events of its own (the failure came later, or the id is
    another request's): nothing is published then. Returns whether it was."""
    with uow:
        if uow.jobs.progress([job_id]):
            return False
    if stream.refusal(job_id) is not None:  # the same message refused on a redelivery
        return False
    named = org_id if isinstance(org_id, str) and 0 < len(org_id) <= MAX_ID_LENGTH else None
    stream.publish(job_id, [refused_event(named, type(error).__name__, str(error))])
    return True


def job_owner(uow: UnitOfWork, stream: ProgressStream, job_id: str) -> str | None:
    """The organization whose followers may see the job: the recorded job's, else the one a
    ``refused`` event of a request never recorded names (None: no such job, yet)."""
    progress = job_progress(uow, job_id)
    if progress is not None:
        return progress.org_id
    refusal = stream.refusal(job_id)
    return None if refusal is None else refusal.data.get("org_id")


def settled_jobs(uow: UnitOfWork, buried: Sequence[Buried]) -> dict[str, dict[str, str]]:
    """The jobs waiting for versions just given up on, each with those documents and why
    (inside the transaction that gave up on them)."""
    by_org: dict[str, list[Buried]] = {}
    for version in buried:
        by_org.setdefault(version.org_id, []).append(version)
    jobs: dict[str, dict[str, str]] = {}
    for org_id, versions in by_org.items():
        reasons = {v.document_id: v.reason for v in versions}
        ranges = {v.document_id: (v.posted_version, v.version) for v in versions}
        for job_id, document_id in uow.jobs.touched(org_id, ranges):
            jobs.setdefault(job_id, {})[document_id] = reasons[document_id]
    return jobs


class JobAnnouncer:
    """Publishes each job's events after the commits that move it: ``accepted`` (then each
    document rejected, and ``done`` at once when nothing is due), ``queued`` with its place
    and an estimate, ``failed``, ``progress`` and ``done``, ``cancelled``. Progress is a view
    of Postgres: a failure to read or publish it never fails the work, and the next commit
    publishes it again."""

    def __init__(
        self,
        units: Callable[[], UnitOfWork],
        stream: Callable[[], ProgressStream],
        rate: Callable[[Lane], float | None],
    ) -> None:
        self._units = units
        self._stream = stream
        self._rate = rate

    def accepted(self, event: JobAccepted) -> None:
        events = accepted_events(
            event.job_id, event.org_id, event.kind, event.total, event.rejected
        )
        self._stream().publish(event.job_id, events)

    def queued(self, job_id: str) -> None:
        try:
            place = place_in_lane(self._units(), job_id)
        except Exception as exc:  # progress is a view: never fail the job for it
            log.warning("queue place of job %s unknown: %s", job_id, exc, extra={"job_id": job_id})
            return
        if place is None:
            return
        progress, ahead = place
        rate = self._rate(Lane(progress.lane))
        eta = None if rate is None else estimated_seconds(ahead, progress.pending, rate)
        data = {"lane": progress.lane, "ahead": ahead, "pending": progress.pending}
        self._stream().publish(job_id, [("queued", data | {"eta_seconds": eta})])

    def moved(self, failures_by_job: Mapping[str, Mapping[str, str]]) -> None:
        """Where each job a posting moved on stands now (read after its commit: a reading
        inside it could not see a concurrent batch of the same job)."""
        if not failures_by_job:
            return
        try:
            progress = progress_of(self._units(), sorted(failures_by_job))
        except Exception as exc:  # progress is a view: never fail the posting for it
            log.warning("progress of jobs %s unknown: %s", sorted(failures_by_job), exc)
            return
        stream = self._stream()
        for job_id, job in progress.items():
            stream.publish_progress(job, dict(failures_by_job[job_id]))

    def cancelled(self, event: JobCancelled) -> None:
        stream = self._stream()
        stream.publish(event.job_id, [("cancelled", {"documents": event.taken_back})])
        try:
            progress = job_progress(self._units(), event.job_id)
        except Exception as exc:
            log.warning("progress of job %s unknown: %s", event.job_id, exc)
            return
        if progress is not None:
            stream.publish_progress(progress, {})
