"""Use cases of the operator console (``/console``, ``/v1/admin/...``): every organization's
queue with pause and resume, dead letters and dead intake found by their error and retried,
job history with each job's events, and one document with its versions and entry sets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from accounting.domain.events import WorkArrived
from accounting.domain.intake import DeadMessage
from accounting.errors import InvalidSetting
from accounting.store.console import DeadLetter, OrgFigures
from accounting.store.lookups import JOB_STATES, DocumentRecord, EntryRecord, JobRecord
from accounting.store.uow import UnitOfWork
from accounting.volatile.progress import Event, ProgressStream

__all__ = [
    "MAX_ENTRIES",
    "MAX_LIMIT",
    "DeadLetter",
    "DocumentDetail",
    "DocumentRecord",
    "EntryRecord",
    "EntrySet",
    "JobDetail",
    "JobRecord",
    "OrgFigures",
    "dead_intake",
    "dead_letters",
    "document_detail",
    "document_state",
    "job_detail",
    "organizations",
    "retry_dead_intake",
    "retry_dead_letters",
    "search_jobs",
]

#: The most rows one page of the console asks for.
MAX_LIMIT = 500
#: The most journal entries shown of one document (the newest).
MAX_ENTRIES = 500


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidSetting(f"limit: must be 1 to {MAX_LIMIT}, got {limit}")


def organizations(uow: UnitOfWork) -> list[OrgFigures]:
    """Every organization: backlog and oldest age per lane, in flight, dead, dead intake,
    paused; one snapshot."""
    with uow:
        uow.use_snapshot()
        return uow.console.organizations()


def dead_letters(
    uow: UnitOfWork, org_id: str | None, error: str | None, limit: int = 100
) -> list[DeadLetter]:
    """Dead documents, of one organization or all, whose last error contains ``error``."""
    _check_limit(limit)
    with uow:
        if org_id is not None:
            uow.organizations.get_or_raise(org_id)
        return uow.console.dead_letters(org_id, error or None, limit)


def retry_dead_letters(
    uow: UnitOfWork,
    org_id: str,
    *,
    document_ids: Sequence[str] | None = None,
    error: str | None = None,
) -> int:
    """Make dead documents pending again: the given ones, or else every one of the
    organization whose last error contains ``error`` (all of them without one). Returns how
    many were revived; the dispatcher is woken."""
    with uow:
        uow.organizations.get_or_raise(org_id)
        if document_ids is not None:
            revived = uow.queue.revive(org_id, document_ids)
        else:
            revived = uow.console.revive_matching(org_id, error or None)
        if revived:
            uow.record(WorkArrived())
        uow.commit()
    return revived


def dead_intake(
    uow: UnitOfWork,
    org_id: str | None,
    error: str | None,
    limit: int = 100,
    *,
    retried: bool = False,
) -> list[DeadMessage]:
    """Messages kept whole, of one organization or all, whose reason contains ``error``
    (with ``retried``, those sent again too), newest first."""
    _check_limit(limit)
    with uow:
        if org_id is not None:
            uow.organizations.get_or_raise(org_id)
        return uow.console.dead_intake(org_id, error or None, limit, retried=retried)


def retry_dead_intake(
    uow: UnitOfWork,
    org_id: str,
    send: Callable[[DeadMessage], None],
    *,
    ids: Sequence[int] | None = None,
    error: str | None = None,
) -> list[DeadMessage]:
    """Send the organization's dead messages again (the given ones, or else every one not
    retried yet whose reason contains ``error``), each under its own task id, and mark them
    retried, in one transaction: a send that fails leaves every one unmarked."""
    with uow:
        uow.organizations.get_or_raise(org_id)
        chosen = list(ids) if ids is not None else uow.console.dead_intake_ids(org_id, error)
        taken = uow.intake.take_for_retry(org_id, chosen) if chosen else []
        for message in taken:
            send(message)
        uow.commit()
    return taken


def search_jobs(
    uow: UnitOfWork,
    *,
    job_id: str | None = None,
    org_id: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 100,
) -> list[JobRecord]:
    """Jobs matching every filter given, newest first (``state``: open, done or failed)."""
    _check_limit(limit)
    if state is not None and state not in JOB_STATES:
        raise InvalidSetting(f"state: {state[:40]!r} is not one of {', '.join(JOB_STATES)}")
    with uow:
        return uow.lookups.jobs(
            job_id=job_id, org_id=org_id, kind=kind, state=state, since=since, limit=limit
        )


@dataclass(frozen=True)
class JobDetail:
    job: JobRecord
    #: Its events after the cursor asked for, in order, from its progress stream (empty once
    #: Redis has lost them or the stream expired: the counts come from Postgres).
    events: list[Event]


def job_detail(
    uow: UnitOfWork, stream: ProgressStream, job_id: str, after: str = "0"
) -> JobDetail | None:
    """A job, whatever its organization, with its events after ``after`` (None: unknown)."""
    with uow:
        found = uow.lookups.jobs(
            job_id=job_id, org_id=None, kind=None, state=None, since=None, limit=1
        )
    if not found:
        return None
    return JobDetail(found[0], stream.read(job_id, after=after))


@dataclass(frozen=True)
class EntrySet:
    """The entries posted for one version of a document (one set, or a set and its
    reversals)."""

    document_version: int
    #: ``active``, ``retired``, ``reversed``; ``reversal`` for the entries cancelling a set.
    status: str
    entries: list[EntryRecord]


@dataclass(frozen=True)
class DocumentDetail:
    document: DocumentRecord
    #: ``posted``, ``dead``, ``in flight`` or ``pending``.
    state: str
    active: list[EntrySet]
    past: list[EntrySet]


def document_state(document: DocumentRecord) -> str:
    if document.posted_version == document.ready_version:
        return "posted"
    if document.failed_version == document.ready_version:
        return "dead"
    return "in flight" if document.in_flight else "pending"


def document_detail(uow: UnitOfWork, org_id: str, document_id: str) -> DocumentDetail | None:
    """A document's versions, state, attempts and last error, and its active and past entry
    sets with their lines (the newest :data:`MAX_ENTRIES` entries); None: no such document."""
    with uow:
        uow.use_snapshot()
        uow.organizations.get_or_raise(org_id)
        document = uow.lookups.document(org_id, document_id)
        if document is None:
            return None
        entries = uow.lookups.entries(org_id, document_id, MAX_ENTRIES)
    sets: dict[tuple[int, str], list[EntryRecord]] = {}
    for entry in entries:
        sets.setdefault((entry.document_version, entry.status), []).append(entry)
    grouped = [EntrySet(version, status, rows) for (version, status), rows in sets.items()]
    return DocumentDetail(
        document,
        document_state(document),
        active=[s for s in grouped if s.status == "active"],
        past=sorted(
            (s for s in grouped if s.status != "active"),
            key=lambda s: (-s.document_version, s.status),
        ),
    )
