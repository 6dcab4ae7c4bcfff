"""Use cases: the only API that entrypoints (Celery tasks, CLI, HTTP) call."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from accounting import money
from accounting.cache import MatrixCache
from accounting.documents import (
    Document,
    canonical_json,
    content_hash,
    estimated_cost,
    validate_documents,
)
from accounting.errors import (
    FieldError,
    InvalidSetting,
    NoPublishedMatrix,
    PermanentError,
    TooManyDocuments,
    UnknownOrganization,
)
from accounting.ledger import EntryDraft, PostingFacts, entry_for, posting_facts
from accounting.matrix import PostingMatrix
from accounting.repository import (
    HIGH,
    NORMAL,
    DeadDocument,
    NewDocument,
    OrganizationRow,
    Repository,
)
from accounting.uow import UnitOfWork

_matrices = MatrixCache()


@dataclass
class UpsertResult:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[FieldError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "unchanged": self.unchanged,
            "rejected": [error.as_dict() for error in self.rejected],
        }


@dataclass
class RecreateResult:
    versions: dict[str, int] = field(default_factory=dict)
    rejected: list[FieldError] = field(default_factory=list)
    paused: bool = False


@dataclass
class PostResult:
    posted: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    #: Dead at once: the document cannot be posted as it is (reason).
    failed: dict[str, str] = field(default_factory=dict)
    #: Will be tried again after a backoff (error), until too many attempts.
    postponed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "posted": len(self.posted),
            "stale": len(self.stale),
            "failed": self.failed,
            "postponed": self.postponed,
        }


# -- set-up -----------------------------------------------------------------------------------


def create_organization(
    uow: UnitOfWork,
    org_id: str,
    name: str,
    functional_currency: str,
    accounts: Sequence[tuple[str, str, str]],
) -> None:
    money.exponent(functional_currency)  # raises UnknownCurrency
    with uow:
        uow.repo.add_organization(org_id, name, functional_currency)
        uow.matrices.add_accounts(org_id, accounts)
        uow.commit()


# -- documents --------------------------------------------------------------------------------


def upsert_documents(
    uow: UnitOfWork, org_id: str, raw_documents: Sequence[object], *, max_documents: int
) -> UpsertResult:
    """Validate each document on its own; store the good ones in one transaction, bumping
    ``ready_version`` only where the content changed. Bad ones are reported, not stored."""
    if len(raw_documents) > max_documents:
        raise TooManyDocuments(
            f"{len(raw_documents)} documents in one call; at most {max_documents}"
        )
    documents, rejected = validate_documents(raw_documents)
    result = UpsertResult(rejected=list(rejected))
    with uow:
        organization = get_organization(uow.repo, org_id)
        accepted = []
        for document in documents:
            error = _currency_error(document, organization)
            if error:
                result.rejected.append(error)
            else:
                accepted.append(document)
        changed = uow.repo.upsert_documents(org_id, [_new_document(d) for d in accepted])
        uow.commit()
    for document in accepted:
        (result.changed if document.id in changed else result.unchanged).append(document.id)
    return result


def request_recreate(
    uow: UnitOfWork,
    org_id: str,
    document_ids: Sequence[str],
    *,
    hold_seconds: float | None,
    high_lane: bool = True,
) -> RecreateResult:
    """Make a new version of each document, due on the high lane (or, for a FIFO baseline,
    the normal one). With ``hold_seconds`` the caller means to post them itself (the fast
    path); the dispatcher waits that long first."""
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
        uow.commit()
    return result


def post_documents(uow: UnitOfWork, org_id: str, versions: dict[str, int]) -> PostResult:
    """Post each ``{document id: version}`` in one transaction. A version that is no longer
    current or already posted writes nothing. A document that cannot be posted does not stop
    the others: a permanent reason makes it dead at once; any other error postpones it with a
    backoff, and the dispatcher gives up on it after ``max_attempts``."""
    result = PostResult()
    with uow:
        organization = get_organization(uow.repo, org_id)
        drafts: dict[str, EntryDraft] = {}
        delays: dict[str, float] = {}
        for stored in uow.repo.documents_for_posting(org_id, list(versions)):
            version = versions[stored.id]
            if stored.ready_version != version or stored.posted_version >= version:
                continue
            try:
                drafts[stored.id] = _draft(uow, organization, stored.facts)
            except PermanentError as exc:
                result.failed[stored.id] = str(exc)
            except Exception as exc:  # a poison document: isolate it, retry it later
                result.postponed[stored.id] = f"{type(exc).__name__}: {exc}"[:2000]
                delays[stored.id] = retry_delay(stored.attempts)
        won = uow.repo.mark_posted(org_id, {i: versions[i] for i in drafts})
        uow.repo.retire_active_entries(org_id, won)
        uow.repo.add_entries(org_id, [(drafts[i], versions[i]) for i in won])
        uow.repo.mark_failed(org_id, {i: (versions[i], r) for i, r in result.failed.items()})
        postponed = {i: (versions[i], e) for i, e in result.postponed.items()}
        uow.repo.postpone(org_id, postponed, delays)
        uow.commit()
    result.posted = won
    handled = set(won) | set(result.failed) | set(result.postponed)
    result.stale = [i for i in versions if i not in handled]
    return result


def postpone_documents(uow: UnitOfWork, org_id: str, versions: dict[str, int], error: str) -> None:
    """A whole batch failed unexpectedly: record why and retry its documents after a backoff,
    one by one (the dispatcher sends documents claimed before in batches of their own)."""
    with uow:
        delay = retry_delay(1)
        errors = {i: (v, error[:2000]) for i, v in versions.items()}
        uow.repo.postpone(org_id, errors, dict.fromkeys(versions, delay))
        uow.commit()


def retry_delay(attempts: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with jitter: spreads the retries of documents that failed together."""
    exponent: float = 2.0 ** max(0, attempts - 1)
    return random.uniform(0.5, 1.0) * min(cap, base * exponent)


def release_documents(uow: UnitOfWork, org_id: str, document_ids: Sequence[str]) -> None:
    """Give documents back to the dispatcher now (e.g. when the fast path could not post)."""
    with uow:
        uow.repo.release_leases(org_id, document_ids)
        uow.commit()


def set_paused(uow: UnitOfWork, org_id: str, paused: bool) -> None:
    """Pause or resume an organization: while paused nothing of it is dispatched or posted
    inline; its documents keep their place and nothing is dropped."""
    with uow:
        get_organization(uow.repo, org_id)
        uow.repo.set_schedule(org_id, paused=paused)
        uow.commit()


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
    (``clear`` names the limits to remove)."""
    values: dict[str, Any] = {name: None for name in clear}
    for name, value in (
        ("weight", weight),
        ("max_in_flight", max_in_flight),
        ("rate_per_second", rate_per_second),
    ):
        if value is not None:
            if value <= 0:
                raise InvalidSetting(f"{name}: must be positive, got {value}")
            values[name] = value
    with uow:
        get_organization(uow.repo, org_id)
        uow.repo.set_schedule(org_id, **values)
        uow.commit()


def dead_documents(uow: UnitOfWork, org_id: str | None, limit: int = 100) -> list[DeadDocument]:
    with uow:
        return uow.repo.dead_documents(org_id, limit)


def retry_dead(uow: UnitOfWork, org_id: str, document_ids: Sequence[str] | None) -> int:
    """Make dead documents pending again (the given ones, or all of the organization's)."""
    with uow:
        get_organization(uow.repo, org_id)
        revived = uow.repo.revive(org_id, document_ids)
        uow.commit()
    return revived


def abandon_pending(uow: UnitOfWork, org_id: str, reason: str) -> int:
    """Give up on every pending document of an organization (they become dead with
    ``reason`` and can be retried with ``accounting dead retry``)."""
    with uow:
        get_organization(uow.repo, org_id)
        abandoned = uow.repo.abandon_pending(org_id, reason)
        uow.commit()
        uow.repo.vacuum_queue()
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


def status(uow: UnitOfWork, org_id: str | None = None) -> dict[str, int]:
    with uow:
        return uow.repo.status_counts(org_id)


# -- helpers ----------------------------------------------------------------------------------


def get_organization(repo: Repository, org_id: str) -> OrganizationRow:
    organization = repo.get_organization(org_id)
    if organization is None:
        raise UnknownOrganization(f"unknown organization {org_id!r}")
    return organization


def _draft(uow: UnitOfWork, organization: OrganizationRow, facts: dict[str, Any]) -> EntryDraft:
    matrix = _current_matrix(uow, organization)
    return entry_for(PostingFacts.from_json(facts), matrix, organization.functional_currency)


def _current_matrix(uow: UnitOfWork, organization: OrganizationRow) -> PostingMatrix:
    version = organization.matrix_version
    if version is None:
        raise NoPublishedMatrix(f"organization {organization.id!r} has no published matrix")
    return _matrices.get(
        organization.id, version, lambda: uow.matrices.load_matrix(organization.id, version)
    )


def _currency_error(document: Document, organization: OrganizationRow) -> FieldError | None:
    if document.currency != organization.functional_currency and document.exchange_rate is None:
        return FieldError(
            document.id,
            "exchange_rate",
            f"required: currency {document.currency} differs from the organization's "
            f"functional currency {organization.functional_currency}",
        )
    return None


def _new_document(document: Document) -> NewDocument:
    canonical = canonical_json(document)
    return NewDocument(
        id=document.id,
        type=document.type,
        content_json=canonical,
        facts_json=json.dumps(posting_facts(document).to_json(), separators=(",", ":")),
        content_hash=content_hash(document, canonical),
        cost=estimated_cost(document),
    )
