"""Use cases: the only API that entrypoints (Celery tasks, CLI, HTTP) call."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from accounting import money
from accounting.documents import (
    Document,
    canonical_json,
    content_hash,
    estimated_cost,
    storable,
    validate_documents,
)
from accounting.errors import (
    FieldError,
    InvalidSetting,
    TooManyDocuments,
    UnknownOrganization,
)
from accounting.facts import PostingFacts, posting_facts
from accounting.queue_repository import LEADER_LEASE, DeadDocument
from accounting.repository import (
    HIGH,
    NORMAL,
    DocumentState,
    NewDocument,
    OrganizationRow,
    Repository,
    UpsertOutcome,
)
from accounting.uow import UnitOfWork


@dataclass
class UpsertResult:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: Older than the stored revision: ignored.
    stale: list[str] = field(default_factory=list)
    rejected: list[FieldError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "rejected": [error.as_dict() for error in self.rejected],
        }


@dataclass
class RecreateResult:
    versions: dict[str, int] = field(default_factory=dict)
    rejected: list[FieldError] = field(default_factory=list)
    paused: bool = False


# -- set-up -----------------------------------------------------------------------------------


def create_organization(
    uow: UnitOfWork,
    org_id: str,
    name: str,
    functional_currency: str,
    accounts: Sequence[tuple[str, str, str]],
    *,
    rounding_account: str | None = None,
    rounding_tolerance: Decimal | None = None,
) -> None:
    """Create an organization with its chart of accounts and, optionally, the account that
    takes foreign-currency rounding differences (up to ``rounding_tolerance``, by default
    :data:`DEFAULT_ROUNDING_UNITS` minor units of the functional currency)."""
    money.exponent(functional_currency)  # raises UnknownCurrency
    with uow:
        uow.repo.add_organization(org_id, name, functional_currency)
        uow.matrices.add_accounts(org_id, accounts)
        if rounding_account is not None:
            tolerance = rounding_tolerance
            if tolerance is None:
                tolerance = default_rounding_tolerance(functional_currency)
            uow.books.set_rounding(
                org_id, rounding_account=rounding_account, rounding_tolerance=tolerance
            )
        uow.commit()


#: Per-line conversion leaves at most half a minor unit per line; more than this many minor
#: units in one entry means a wrong rate or rule, not rounding.
DEFAULT_ROUNDING_UNITS = 5


def default_rounding_tolerance(functional_currency: str) -> Decimal:
    return DEFAULT_ROUNDING_UNITS * money.minor_unit(functional_currency)


# -- documents --------------------------------------------------------------------------------


def upsert_documents(
    uow: UnitOfWork,
    org_id: str,
    raw_documents: Sequence[object],
    *,
    max_documents: int,
    job_id: str | None = None,
) -> UpsertResult:
    """Validate each document on its own; store the good ones in one transaction, bumping
    ``ready_version`` only where the content changed. Bad ones are reported, not stored. With
    a ``job_id`` the call is a job that waits for the new versions to be posted."""
    if len(raw_documents) > max_documents:
        raise TooManyDocuments(
            f"{len(raw_documents)} documents in one call; at most {max_documents}"
        )
    documents, rejected = validate_documents(raw_documents)
    result = UpsertResult(rejected=list(rejected))
    with uow:
        get_organization(uow.repo, org_id)
        facts = [posting_facts(d) for d in documents]
        outcomes = uow.repo.upsert_documents(
            org_id, [new_document(d, f) for d, f in zip(documents, facts, strict=True)]
        )
        uow.matrices.record_components(org_id, {t for f in facts for t in f.used_components()})
        if job_id is not None:
            due = {i: v for i, (outcome, v) in outcomes.items() if outcome in NEW_WORK and v}
            uow.jobs.create(job_id, org_id, kind="sync", lane="normal", versions=due)
        uow.commit()
    lists = {
        UpsertOutcome.NEW: result.changed,
        UpsertOutcome.CHANGED: result.changed,
        UpsertOutcome.UNCHANGED: result.unchanged,
        UpsertOutcome.STALE: result.stale,
    }
    for document in documents:
        lists[outcomes[document.id][0]].append(document.id)
    return result


NEW_WORK = (UpsertOutcome.NEW, UpsertOutcome.CHANGED)


def request_recreate(
    uow: UnitOfWork,
    org_id: str,
    document_ids: Sequence[str],
    *,
    hold_seconds: float | None,
    high_lane: bool = True,
    job_id: str | None = None,
    requested_by: str | None = None,
) -> RecreateResult:
    """Make a new version of each document, due on the high lane (or, for a FIFO baseline,
    the normal one). With ``hold_seconds`` the caller means to post them itself (the fast
    path); the dispatcher waits that long first. With a ``job_id`` the request is a job that
    waits for those versions to be posted."""
    result = RecreateResult()
    with uow:
        organization = get_organization(uow.repo, org_id)
        result.paused = organization.paused
        unique_ids = list(dict.fromkeys(document_ids))
        known = uow.repo.existing_document_ids(org_id, unique_ids)
        result.rejected = [
            FieldError(i, "document_ids", f"no document {i!r} in organization {org_id!r}")
            for i in unique_ids
            if i not in known
        ]
        ids = [i for i in unique_ids if i in known]
        result.versions = uow.repo.request_recreate(
            org_id, ids, priority=HIGH if high_lane else NORMAL, lease_seconds=hold_seconds
        )
        if job_id is not None:
            uow.jobs.create(
                job_id, org_id, kind="recreate", lane="high" if high_lane else "normal",
                versions=result.versions, requested_by=requested_by,
            )  # fmt: skip
        uow.commit()
    return result


def start_recreate_all(uow: UnitOfWork, org_id: str) -> dt.datetime:
    """The mark of a new recreate of a whole organization: documents made ready before it are
    still to recreate. Keep it to resume an interrupted request."""
    with uow:
        get_organization(uow.repo, org_id)
        return uow.repo.database_now()


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
            ids = uow.repo.recreate_next(org_id, after, since, chunk)
            uow.commit()
        if not ids:
            return recreated
        recreated, after = recreated + len(ids), ids[-1]
        on_chunk(len(ids))


def release_documents(uow: UnitOfWork, org_id: str, document_ids: Sequence[str] | None) -> None:
    """Give documents (or all of the organization's) back to the dispatcher now, e.g. when the
    fast path could not post, or the workers that held them are known to be gone. Safe even
    if they are not: posting a version twice writes nothing."""
    with uow:
        uow.queue.release_leases(org_id, document_ids)
        uow.commit()


def set_paused(uow: UnitOfWork, org_id: str, paused: bool) -> None:
    """Pause or resume an organization: while paused nothing of it is dispatched or posted
    inline; its documents keep their place and nothing is dropped."""
    with uow:
        get_organization(uow.repo, org_id)
        uow.queue.set_schedule(org_id, paused=paused)
        uow.commit()


#: Limits ``set_schedule`` can remove (an organization always has a weight).
CLEARABLE_LIMITS = ("max_in_flight", "rate_per_second")
#: organizations.weight and max_in_flight are Postgres integers.
MAX_SCHEDULE_INTEGER = 2**31 - 1
#: organizations.rate_per_second is NUMERIC(12, 3).
MAX_RATE_PER_SECOND = Decimal("999999999.999")


def set_schedule(
    uow: UnitOfWork,
    org_id: str,
    *,
    weight: int | None = None,
    max_in_flight: int | None = None,
    rate_per_second: Decimal | None = None,
    clear: Sequence[str] = (),
) -> None:
    """Change an organization's share of the normal lane, its in-flight cap or its rate limit
    (``clear`` names the limits to remove: ``max_in_flight`` or ``rate_per_second``)."""
    unknown = [name for name in clear if name not in CLEARABLE_LIMITS]
    if unknown:
        raise InvalidSetting(
            f"clear: {unknown[0][:40]!r} is not a limit; expected one of "
            f"{', '.join(CLEARABLE_LIMITS)}"
        )
    values: dict[str, Any] = {name: None for name in clear}
    for name, value in (("weight", weight), ("max_in_flight", max_in_flight)):
        if value is not None:
            if not 0 < value <= MAX_SCHEDULE_INTEGER:
                raise InvalidSetting(f"{name}: must be 1 to {MAX_SCHEDULE_INTEGER}, got {value}")
            values[name] = value
    if rate_per_second is not None:
        values["rate_per_second"] = _rate_per_second(rate_per_second)
    with uow:
        get_organization(uow.repo, org_id)
        uow.queue.set_schedule(org_id, **values)
        uow.commit()


def _rate_per_second(rate: Decimal) -> Decimal:
    # Checked here: NaN compares with an exception, and a rate finer than the column's three
    # places would be stored as zero.
    if not rate.is_finite() or not 0 < rate <= MAX_RATE_PER_SECOND:
        raise InvalidSetting(
            f"rate_per_second: must be above 0 and at most {MAX_RATE_PER_SECOND}, got {rate}"
        )
    if rate != rate.quantize(Decimal("0.001"), rounding=ROUND_DOWN):
        raise InvalidSetting(f"rate_per_second: at most 3 decimal places, got {rate}")
    return rate


def dead_documents(uow: UnitOfWork, org_id: str | None, limit: int = 100) -> list[DeadDocument]:
    with uow:
        if org_id is not None:
            get_organization(uow.repo, org_id)
        return uow.queue.dead_documents(org_id, limit)


def retry_dead(uow: UnitOfWork, org_id: str, document_ids: Sequence[str] | None) -> int:
    """Make dead documents pending again (the given ones, or all of the organization's)."""
    with uow:
        get_organization(uow.repo, org_id)
        revived = uow.queue.revive(org_id, document_ids)
        uow.commit()
    return revived


def abandon_pending(uow: UnitOfWork, org_id: str, reason: str) -> int:
    """Give up on every pending document of an organization (they become dead with
    ``reason`` and can be retried with ``accounting dead retry``)."""
    with uow:
        get_organization(uow.repo, org_id)
        abandoned = uow.queue.abandon_pending(org_id, reason)
        uow.commit()
        uow.queue.vacuum_queue()
    return abandoned


def document_versions(
    uow: UnitOfWork, org_id: str, document_ids: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """``{id: (ready_version, posted_version)}``."""
    with uow:
        return {
            d.id: (d.ready_version, d.posted_version)
            for d in uow.repo.documents_for_posting(org_id, document_ids)
        }


def pending_count(uow: UnitOfWork, org_ids: Sequence[str]) -> int:
    with uow:
        return uow.queue.pending_count(org_ids)


def organization(uow: UnitOfWork, org_id: str) -> OrganizationRow:
    """The organization, or UnknownOrganization."""
    with uow:
        return get_organization(uow.repo, org_id)


def oldest_pending_age_seconds(uow: UnitOfWork, org_id: str | None = None) -> dict[str, float]:
    with uow:
        return uow.queue.oldest_pending_age_seconds(org_id)


def status(uow: UnitOfWork, org_id: str | None = None) -> dict[str, int]:
    with uow:
        if org_id is not None:
            get_organization(uow.repo, org_id)
        return uow.queue.status_counts(org_id)


def content_hashes(uow: UnitOfWork, org_id: str, document_ids: Sequence[str]) -> dict[str, str]:
    """``{id: content hash}`` of the stored documents among ``document_ids``."""
    with uow:
        return uow.repo.content_hashes(org_id, document_ids)


def document_states(uow: UnitOfWork, org_id: str) -> list[DocumentState]:
    with uow:
        return uow.repo.document_states(org_id)


def dispatcher_leader(uow: UnitOfWork) -> str | None:
    """The worker whose dispatcher leads now, if any."""
    with uow:
        return uow.queue.leader(LEADER_LEASE)


# -- helpers ----------------------------------------------------------------------------------


def get_organization(repo: Repository, org_id: str) -> OrganizationRow:
    # An id Postgres cannot even hold (a NUL, an unpaired surrogate) names no organization.
    organization = repo.get_organization(org_id) if storable(org_id) else None
    if organization is None:
        raise UnknownOrganization(f"unknown organization {org_id!r}")
    return organization


def new_document(document: Document, facts: PostingFacts) -> NewDocument:
    canonical = canonical_json(document)
    return NewDocument(
        id=document.id,
        type=document.type,
        content_json=canonical,
        facts_json=json.dumps(facts.to_json(), separators=(",", ":")),
        content_hash=content_hash(document, canonical),
        cost=estimated_cost(document),
        revision=document.revision,
    )
