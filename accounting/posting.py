"""Use cases of posting: document versions into the journal, and a preview of an entry set."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis

from accounting import runtime
from accounting.cache import CacheStats, MatrixCache, matrix_key
from accounting.config import get_settings
from accounting.documents import validate_documents
from accounting.errors import DocumentRejected, NoPublishedMatrix, PermanentError, UnknownDocument
from accounting.facts import PostingFacts, posting_facts
from accounting.ledger import Books, EntryDraft, entry_set, reversal_of
from accounting.matrix import PostingMatrix
from accounting.repository import NewEntry, OrganizationRow, StoredDocument
from accounting.services import get_organization
from accounting.uow import UnitOfWork


def _redis_if_configured() -> redis.Redis | None:
    return runtime.redis_client() if get_settings().redis_url else None


_matrices = MatrixCache(_redis_if_configured)


def matrix_cache_stats() -> CacheStats:
    return _matrices.stats


_counted = CacheStats()


def matrix_cache_counts_since_last_call() -> dict[str, int]:
    """This process's cache hits, misses and errors since the previous call (for metrics)."""
    stats = _matrices.stats
    delta = {
        "hits": stats.local_hits + stats.redis_hits - _counted.local_hits - _counted.redis_hits,
        "misses": stats.misses - _counted.misses,
        "errors": stats.redis_errors - _counted.redis_errors,
    }
    _counted.__dict__.update(stats.__dict__)
    return delta


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


def post_documents(uow: UnitOfWork, org_id: str, versions: dict[str, int]) -> PostResult:
    """Post each ``{document id: version}`` in one transaction. A version that is no longer
    current or already posted writes nothing. The document's previous entry set leaves the
    active set: retired where its period is open, reversed in the first open period where it
    has closed. A document that cannot be posted does not stop the others: a permanent reason
    makes it dead at once; any other error postpones it with a backoff, and the dispatcher
    gives up on it after ``max_attempts``."""
    result = PostResult()
    with uow:
        organization = get_organization(uow.repo, org_id)
        due = [
            stored
            for stored in uow.repo.documents_for_posting(org_id, list(versions))
            if stored.ready_version == versions[stored.id]
            and stored.posted_version < versions[stored.id]
        ]
        facts: dict[str, PostingFacts] = {}
        delays: dict[str, float] = {}
        for stored in due:
            try:
                facts[stored.id] = PostingFacts.from_json(stored.facts)
            except Exception as exc:  # a poison document: isolate it, retry it later
                _postpone(result, delays, stored, exc)
        books = load_books(uow, organization, facts.values())
        entry_sets: dict[str, tuple[EntryDraft, ...]] = {}
        for stored in due:
            if stored.id not in facts:
                continue
            try:
                matrix = _current_matrix(uow, organization)
                entry_sets[stored.id] = entry_set(facts[stored.id], matrix, books)
            except PermanentError as exc:
                result.failed[stored.id] = str(exc)
            except Exception as exc:
                _postpone(result, delays, stored, exc)
        latencies = uow.repo.mark_posted(org_id, {i: versions[i] for i in entry_sets})
        won = list(latencies)
        replaced, reversed_ids = uow.repo.replace_active_entries(org_id, won, books.closed_periods)
        reversals = [
            NewEntry(reversal_of(entry, books.closed_periods), versions[entry.draft.document_id])
            for entry in uow.repo.posted_entries(org_id, reversed_ids)
        ]
        new_sets = [
            NewEntry(draft, versions[i], replaced.get(i)) for i in won for draft in entry_sets[i]
        ]
        uow.repo.add_entries(org_id, reversals + new_sets)
        uow.repo.mark_failed(org_id, {i: (versions[i], r) for i, r in result.failed.items()})
        result.jobs = _job_updates(
            uow, org_id, due, versions, [*won, *result.failed], result.failed
        )
        postponed = {i: (versions[i], e) for i, e in result.postponed.items()}
        uow.queue.postpone(org_id, postponed, delays)
        uow.commit()
    result.posted = won
    result.latencies = list(latencies.values())
    handled = set(won) | set(result.failed) | set(result.postponed)
    result.stale = [i for i in versions if i not in handled]
    return result


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
) -> tuple[EntryDraft, ...]:
    """The entry set a document (given, or stored) would get under a matrix version (by
    default the draft, else the current one), with today's periods and rates. Writes
    nothing."""
    with uow:
        organization = get_organization(uow.repo, org_id)
        facts = _facts_to_preview(uow, org_id, document, document_id)
        version = matrix_version or uow.matrices.draft_version(org_id)
        if version is None:
            matrix = _current_matrix(uow, organization)
        else:
            matrix = uow.matrices.load_matrix(org_id, version)
        return entry_set(facts, matrix, load_books(uow, organization, [facts]))


def _facts_to_preview(
    uow: UnitOfWork, org_id: str, document: object, document_id: str | None
) -> PostingFacts:
    if document is not None:
        documents, errors = validate_documents([document])
        if errors:
            raise DocumentRejected("; ".join(str(error) for error in errors))
        return posting_facts(documents[0])
    stored = uow.repo.documents_for_posting(org_id, [document_id] if document_id else [])
    if not stored:
        raise UnknownDocument(f"no document {document_id!r} in organization {org_id!r}")
    return PostingFacts.from_json(stored[0].facts)


def load_books(
    uow: UnitOfWork, organization: OrganizationRow, facts: Iterable[PostingFacts]
) -> Books:
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
    return Books(
        functional_currency=functional,
        rounding_account=organization.rounding_account,
        rounding_tolerance=organization.rounding_tolerance,
        closed_periods=uow.books.closed_periods(organization.id),
        rates=uow.books.exchange_rates(organization.id, wanted),
    )


def postpone_documents(uow: UnitOfWork, org_id: str, versions: dict[str, int], error: str) -> None:
    """A whole batch failed unexpectedly: record why and retry its documents after a backoff,
    one by one (the dispatcher sends documents claimed before in batches of their own)."""
    with uow:
        delay = retry_delay(1)
        errors = {i: (v, error[:2000]) for i, v in versions.items()}
        uow.queue.postpone(org_id, errors, dict.fromkeys(versions, delay))
        uow.commit()


def retry_delay(attempts: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with jitter: spreads the retries of documents that failed together."""
    exponent: float = 2.0 ** max(0, attempts - 1)
    return random.uniform(0.5, 1.0) * min(cap, base * exponent)


def _current_matrix(uow: UnitOfWork, organization: OrganizationRow) -> PostingMatrix:
    version = organization.matrix_version
    if version is None:
        raise NoPublishedMatrix(f"organization {organization.id!r} has no published matrix")
    if not get_settings().matrix_cache:
        return uow.matrices.load_matrix(organization.id, version)
    key = matrix_key(organization.id, version, organization.matrix_published_at)
    return _matrices.get(key, lambda: uow.matrices.load_matrix(organization.id, version))
