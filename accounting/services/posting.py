"""Use cases of posting: document versions into the journal, and a preview of an entry set."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from accounting.domain.events import JobsMoved, WorkArrived
from accounting.domain.facts import PostingFacts, posting_facts
from accounting.domain.ledger import EntryDraft, PostingContext, entry_set, reversal_of
from accounting.domain.matrix import PostingMatrix
from accounting.errors import (
    PERMANENT_ERRORS,
    DocumentRejected,
    NoPublishedMatrix,
    TransientError,
    UnknownDocument,
)
from accounting.store.documents import StoredDocument
from accounting.store.journal import NewEntry
from accounting.store.organizations import OrganizationRow
from accounting.store.uow import UnitOfWork
from accounting.volatile.matrix_cache import MatrixCache, matrix_key
from accounting_impact_client.documents import validate_documents

log = logging.getLogger(__name__)


@dataclass
class PostResult:
    posted: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    #: Dead at once: the document cannot be posted as it is (reason).
    failed: dict[str, str] = field(default_factory=dict)
    #: Will be tried again after a backoff (error), until too many attempts.
    postponed: dict[str, str] = field(default_factory=dict)
    #: Seconds from each posted version becoming due to its posting.
    latencies: list[float] = field(default_factory=list)
    #: The jobs this posting moved on, each with its documents that failed and why (read
    #: where they stand after the commit: a reading inside this transaction cannot see a
    #: concurrent batch of the same job, and the job would never look done).
    jobs: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "posted": len(self.posted),
            "stale": len(self.stale),
            "failed": self.failed,
            "postponed": self.postponed,
        }


def post_documents(
    uow: UnitOfWork,
    org_id: str,
    versions: dict[str, int],
    *,
    matrices: MatrixCache | None = None,
) -> PostResult:
    """Post each ``{document id: version}`` in one transaction. A version that is no longer
    current or already posted writes nothing. The document's previous entry set leaves the
    active set: retired where its period is open, reversed in the first open period where it
    has closed. A document that cannot be posted does not stop the others: a permanent reason
    makes it dead at once; any other error postpones it with a backoff, and the dispatcher
    gives up on it after ``max_attempts``. The posting matrix comes from ``matrices`` when a
    cache is given, else from Postgres."""
    result = PostResult()
    with uow:
        organization = uow.organizations.get_or_raise(org_id)
        due = _due(uow, org_id, versions)
        delays: dict[str, float] = {}
        facts = _facts(due, result, delays)
        context = load_context(uow, organization, facts.values())
        entry_sets = _entry_sets(uow, organization, matrices, due, facts, context, result, delays)
        won = _write(uow, org_id, versions, entry_sets, context, result)
        result.jobs = _job_updates(
            uow, org_id, due, versions, [*won, *result.failed], result.failed
        )
        postponed = {i: (versions[i], e) for i, e in result.postponed.items()}
        uow.leases.postpone(org_id, postponed, delays)
        uow.record(WorkArrived(), JobsMoved(result.jobs))
        uow.commit()
    handled = set(result.posted) | set(result.failed) | set(result.postponed)
    result.stale = [i for i in versions if i not in handled]
    return result


def _due(uow: UnitOfWork, org_id: str, versions: dict[str, int]) -> list[StoredDocument]:
    """The documents whose version asked for is still current and not yet posted."""
    return [
        stored
        for stored in uow.documents.documents_for_posting(org_id, list(versions))
        if stored.ready_version == versions[stored.id]
        and stored.posted_version < versions[stored.id]
    ]


def _facts(
    due: list[StoredDocument], result: PostResult, delays: dict[str, float]
) -> dict[str, PostingFacts]:
    facts: dict[str, PostingFacts] = {}
    for stored in due:
        try:
            facts[stored.id] = PostingFacts.from_json(stored.facts)
        except Exception as exc:  # a poison document: isolate it, retry it later
            _postpone(result, delays, stored, exc)
    return facts


def _entry_sets(
    uow: UnitOfWork,
    organization: OrganizationRow,
    matrices: MatrixCache | None,
    due: list[StoredDocument],
    facts: dict[str, PostingFacts],
    context: PostingContext,
    result: PostResult,
    delays: dict[str, float],
) -> dict[str, tuple[EntryDraft, ...]]:
    """Each document's entry set (pure posting); a document that cannot be posted is failed
    (a permanent reason) or postponed (anything else), and the others go on."""
    entry_sets: dict[str, tuple[EntryDraft, ...]] = {}
    for stored in due:
        if stored.id not in facts:
            continue
        try:
            matrix = current_matrix(uow, organization, matrices)
            entry_sets[stored.id] = entry_set(facts[stored.id], matrix, context)
        except PERMANENT_ERRORS as exc:
            result.failed[stored.id] = str(exc)
        except Exception as exc:
            _postpone(result, delays, stored, exc)
    return entry_sets


def _write(
    uow: UnitOfWork,
    org_id: str,
    versions: dict[str, int],
    entry_sets: dict[str, tuple[EntryDraft, ...]],
    context: PostingContext,
    result: PostResult,
) -> list[str]:
    """Win the version lock of each document with an entry set, take its previous active set
    out (retired, or reversed where its period closed), add the new sets, record the failures.
    Returns the documents this transaction posted."""
    latencies = uow.versions.mark_posted(org_id, {i: versions[i] for i in entry_sets})
    won = list(latencies)
    closed = context.closed_periods
    replaced, reversed_ids = uow.journal.replace_active_entries(org_id, won, closed)
    reversals = [
        NewEntry(reversal_of(entry, closed), versions[entry.draft.document_id])
        for entry in uow.journal.posted_entries(org_id, reversed_ids)
    ]
    new_sets = [
        NewEntry(draft, versions[i], replaced.get(i)) for i in won for draft in entry_sets[i]
    ]
    uow.journal.add_entries(org_id, reversals + new_sets)
    uow.versions.mark_failed(org_id, {i: (versions[i], r) for i, r in result.failed.items()})
    result.posted, result.latencies = won, list(latencies.values())
    return won


def _job_updates(
    uow: UnitOfWork,
    org_id: str,
    due: list[StoredDocument],
    versions: dict[str, int],
    settled: list[str],
    failed: dict[str, str],
) -> dict[str, dict[str, str]]:
    """The jobs waiting for a version these documents just posted or failed at: any version
    after the one posted before (a newer version posted settles an older request too)."""
    before = {stored.id: stored.posted_version for stored in due}
    jobs: dict[str, dict[str, str]] = {}
    for job_id, document_id in uow.jobs.touched(
        org_id, {i: (before[i], versions[i]) for i in settled}
    ):
        failures = jobs.setdefault(job_id, {})
        if document_id in failed:
            failures[document_id] = failed[document_id]
    return jobs


def _postpone(
    result: PostResult, delays: dict[str, float], stored: StoredDocument, exc: Exception
) -> None:
    result.postponed[stored.id] = f"{type(exc).__name__}: {exc}"[:2000]
    delays[stored.id] = retry_delay(stored.attempts)


def preview_entries(
    uow: UnitOfWork,
    org_id: str,
    matrix_version: int | None,
    *,
    document: object = None,
    document_id: str | None = None,
    matrices: MatrixCache | None = None,
) -> tuple[EntryDraft, ...]:
    """The entry set a document (given, or stored) would get under a matrix version (by
    default the draft, else the current one), with today's periods and rates. Writes
    nothing."""
    with uow:
        organization = uow.organizations.get_or_raise(org_id)
        facts = _facts_to_preview(uow, org_id, document, document_id)
        version = matrix_version or uow.matrices.draft_version(org_id)
        if version is None:
            matrix = current_matrix(uow, organization, matrices)
        else:
            matrix = uow.matrices.load_matrix(org_id, version)
        return entry_set(facts, matrix, load_context(uow, organization, [facts]))


def _facts_to_preview(
    uow: UnitOfWork, org_id: str, document: object, document_id: str | None
) -> PostingFacts:
    if document is not None:
        documents, errors = validate_documents([document])
        if errors:
            raise DocumentRejected("; ".join(str(error) for error in errors))
        return posting_facts(documents[0])
    stored = uow.documents.documents_for_posting(org_id, [document_id] if document_id else [])
    if not stored:
        raise UnknownDocument(f"no document {document_id!r} in organization {org_id!r}")
    return PostingFacts.from_json(stored[0].facts)


def load_context(
    uow: UnitOfWork, organization: OrganizationRow, facts: Iterable[PostingFacts]
) -> PostingContext:
    """The organization's closed periods, rounding settings and the rates these documents
    need (the latest on or before each document's date)."""
    functional = organization.functional_currency
    wanted = sorted(
        {
            (f.currency, f.entry_date)
            for f in facts
            if f.currency != functional and f.exchange_rate is None
        }
    )
    return PostingContext(
        functional_currency=functional,
        rounding_account=organization.rounding_account,
        rounding_tolerance=organization.rounding_tolerance,
        closed_periods=uow.books.closed_periods(organization.id),
        rates=uow.books.exchange_rates(organization.id, wanted),
    )


def post_batch(
    units: Callable[[], UnitOfWork],
    org_id: str,
    versions: dict[str, int],
    *,
    matrices: MatrixCache | None,
) -> PostResult:
    """A batch the dispatcher handed out: :func:`post_documents`, and if it fails in a way
    nobody foresaw, its documents are postponed one by one (the dispatcher then sends each in
    a batch of its own, so one poison document cannot hold its neighbours back again)."""
    try:
        result = post_documents(units(), org_id, versions, matrices=matrices)
    except TransientError:
        raise  # retried with backoff by the task
    except PERMANENT_ERRORS:
        raise  # an unknown organization
    except Exception as exc:
        postpone_documents(units(), org_id, versions, f"{type(exc).__name__}: {exc}")
        raise
    for document_id, reason in result.failed.items():
        log.warning(
            "document %s is dead: %s", document_id, reason, extra={"document_id": document_id}
        )
    for document_id, error in result.postponed.items():
        log.warning(
            "document %s postponed: %s", document_id, error, extra={"document_id": document_id}
        )
    return result


def postpone_documents(uow: UnitOfWork, org_id: str, versions: dict[str, int], error: str) -> None:
    """A whole batch failed unexpectedly: record why and retry its documents after a backoff,
    one by one (the dispatcher sends documents claimed before in batches of their own)."""
    with uow:
        delay = retry_delay(1)
        errors = {i: (v, error[:2000]) for i, v in versions.items()}
        uow.leases.postpone(org_id, errors, dict.fromkeys(versions, delay))
        uow.record(WorkArrived())
        uow.commit()


def retry_delay(attempts: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with jitter: spreads the retries of documents that failed together."""
    exponent: float = 2.0 ** max(0, attempts - 1)
    return random.uniform(0.5, 1.0) * min(cap, base * exponent)


def current_matrix(
    uow: UnitOfWork, organization: OrganizationRow, matrices: MatrixCache | None
) -> PostingMatrix:
    """The organization's current posting matrix: from the cache when there is one (a version
    is immutable, so a cached one is never stale), else from Postgres."""
    version = organization.matrix_version
    if version is None:
        raise NoPublishedMatrix(f"organization {organization.id!r} has no published matrix")
    if matrices is None:
        return uow.matrices.load_matrix(organization.id, version)
    key = matrix_key(organization.id, version, organization.matrix_published_at)
    return matrices.get(key, lambda: uow.matrices.load_matrix(organization.id, version))
