"""Use cases of documents: store a sync (validated, coalesced, revision-checked), hand documents
back to the dispatcher, and the read queries of tools and tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from accounting.domain.events import JobAccepted, JobQueued, WorkArrived
from accounting.domain.facts import PostingFacts, posting_facts
from accounting.domain.lanes import Lane
from accounting.errors import InvalidSetting, JobIdTaken, UnknownDocument
from accounting.store.documents import DocumentState, NewDocument, UpsertOutcome
from accounting.store.uow import UnitOfWork
from accounting_impact_client.documents import (
    Document,
    Rejection,
    canonical_json,
    content_hash,
    estimated_cost,
    validate_documents,
)
from accounting_impact_client.limits import check_documents_call, revision_problem


@dataclass
class UpsertResult:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: Older than the stored revision: ignored.
    stale: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "rejected": [error.as_dict() for error in self.rejected],
        }


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
    a ``job_id`` the call is a job that waits for the new versions to be posted; its
    followers are told once, however often the call is repeated under that id (the id of
    another organization's job is refused: JobIdTaken). A call of more than
    ``max_documents`` documents, or of more lines than a call may hold, is refused whole (see
    accounting_impact_client.limits)."""
    check_documents_call(raw_documents, max_documents=max_documents)
    documents, rejected = validate_documents(raw_documents)
    result = UpsertResult(rejected=list(rejected))
    with uow:
        uow.organizations.get_or_raise(org_id)
        facts = [posting_facts(d) for d in documents]
        outcomes = uow.documents.upsert_documents(
            org_id, [new_document(d, f) for d, f in zip(documents, facts, strict=True)]
        )
        uow.matrices.record_components(org_id, {t for f in facts for t in f.used_components()})
        due = {i: v for i, (outcome, v) in outcomes.items() if outcome in NEW_WORK and v}
        if due:
            uow.record(WorkArrived())
        if job_id is not None:
            _record_sync_job(uow, org_id, job_id, due, rejected)
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


def _record_sync_job(
    uow: UnitOfWork, org_id: str, job_id: str, due: dict[str, int], rejected: Sequence[Rejection]
) -> None:
    """Record the sync as a job and announce it. A job id seen before (the message delivered
    again) was announced already; one of another organization's jobs refuses the call whole
    (checked after the insert, which waits for a concurrent one of the same id to commit)."""
    if uow.jobs.create(job_id, org_id, kind="sync", lane=Lane.NORMAL, versions=due):
        accepted = JobAccepted(job_id, org_id, "sync", len(due), tuple(rejected))
        uow.record(accepted, JobQueued(job_id))
    elif uow.jobs.organization_of(job_id) != org_id:
        raise JobIdTaken(f"job_id {job_id[:64]!r} is taken: choose another")


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


def release_documents(
    uow: UnitOfWork,
    org_id: str,
    document_ids: Sequence[str] | None,
    *,
    job_id: str | None = None,
) -> None:
    """Give documents (or all of the organization's) back to the dispatcher now, e.g. when the
    fast path could not post, or the workers that held them are known to be gone. Safe even
    if they are not: posting a version twice writes nothing. ``job_id`` names the job that
    now waits for the dispatcher."""
    with uow:
        uow.leases.release_leases(org_id, document_ids)
        uow.record(WorkArrived(), *([JobQueued(job_id)] if job_id is not None else []))
        uow.commit()


def document_versions(
    uow: UnitOfWork, org_id: str, document_ids: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """``{id: (ready_version, posted_version)}``."""
    with uow:
        return {
            d.id: (d.ready_version, d.posted_version)
            for d in uow.documents.documents_for_posting(org_id, document_ids)
        }


def content_hashes(uow: UnitOfWork, org_id: str, document_ids: Sequence[str]) -> dict[str, str]:
    """``{id: content hash}`` of the stored documents among ``document_ids``."""
    with uow:
        return uow.documents.content_hashes(org_id, document_ids)


def reset_revision(
    uow: UnitOfWork, org_id: str, document_id: str, *, to: int | None, actor: str
) -> int | None:
    """Set a document's stored revision to ``to`` (None: forget it, so the next upsert wins
    whatever its revision), for a document a wrong revision froze; recorded in
    ``operator_actions`` with ``actor``. Returns the revision it had. Its content and versions
    are left alone: send the document again to change it."""
    problem = revision_problem(to) if to is not None else None
    if problem:
        raise InvalidSetting(f"--to: {problem}")
    with uow:
        uow.organizations.get_or_raise(org_id)
        found, before = uow.documents.reset_revision(org_id, document_id, to)
        if not found:
            raise UnknownDocument(f"no document {document_id!r} in organization {org_id!r}")
        uow.operator_actions.record(
            actor=actor,
            org_id=org_id,
            document_id=document_id,
            action="reset_revision",
            detail={"from": before, "to": to},
        )
        uow.commit()
    return before


def document_states(uow: UnitOfWork, org_id: str) -> list[DocumentState]:
    with uow:
        return uow.documents.document_states(org_id)
