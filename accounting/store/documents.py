"""SQL of documents: their content as stored (one row each, whatever the traffic), and what
posting reads of them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Text, any_, cast, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from accounting.store.models import Document
from accounting.store.sql import ORG, same_org


@dataclass(frozen=True)
class NewDocument:
    id: str
    type: str
    content_json: str
    facts_json: str
    content_hash: str
    cost: int
    revision: int | None = None


class UpsertOutcome(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    #: Below the stored revision: ignored.
    STALE = "stale"


@dataclass(frozen=True)
class StoredDocument:
    id: str
    facts: dict[str, Any]
    ready_version: int
    posted_version: int
    attempts: int


@dataclass(frozen=True)
class DocumentState:
    """Where a document stands, and what its active entry set holds."""

    id: str
    content_hash: str
    ready_version: int
    posted_version: int
    failed_version: int
    #: The versions of its active entries (one, or none, when all is well).
    active_versions: tuple[int, ...]
    #: Active entries sharing a ``seq``: a set posted twice.
    repeated_entries: int


class DocumentRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def upsert_documents(
        self, org_id: str, documents: Sequence[NewDocument]
    ) -> dict[str, tuple[UpsertOutcome, int | None]]:
        """Insert new documents and update changed ones (bumping ``ready_version``); say what
        happened to each, and the version of each one written. Same content (same hash) makes
        no new version. A document whose revision is below the stored one is ``stale`` and
        changes nothing; a higher revision is remembered even when the content is the same.
        The rows travel as one JSON array (the documents' JSON is spliced in as it is), so the
        statement's text and cost do not grow with escaping or per-row parameters."""
        if not documents:
            return {}
        rows = "[" + ",".join(_document_row(d) for d in documents) + "]"
        outcomes = self.connection.execute(
            text(
                """
                WITH incoming AS (
                    SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb))
                        AS n(id text, type text, content jsonb, facts jsonb, content_hash text,
                             cost int, revision bigint)
                ), stored AS (
                    -- the rows as they are before this statement (locked: a concurrent
                    -- upsert of the same document waits, and is then classified against ours)
                    SELECT d.id, d.content_hash, d.revision FROM documents d
                      JOIN incoming n ON n.id = d.id
                     WHERE d.org_id = :org_id
                       FOR UPDATE OF d
                ), written AS (
                    INSERT INTO documents AS d
                           (org_id, id, type, content, facts, content_hash, cost, revision)
                    SELECT :org_id, n.id, n.type, n.content, n.facts, n.content_hash, n.cost,
                           n.revision
                      FROM incoming n
                    ON CONFLICT (org_id, id) DO UPDATE SET
                        type = EXCLUDED.type, content = EXCLUDED.content,
                        facts = EXCLUDED.facts, content_hash = EXCLUDED.content_hash,
                        cost = EXCLUDED.cost,
                        revision = coalesce(EXCLUDED.revision, d.revision),
                        ready_version = d.ready_version
                            + (d.content_hash <> EXCLUDED.content_hash)::int,
                        ready_at = CASE WHEN d.content_hash <> EXCLUDED.content_hash
                                        THEN now() ELSE d.ready_at END,
                        -- a new version is new work: forget the old version's lease and
                        -- attempts
                        lease_until = CASE WHEN d.content_hash <> EXCLUDED.content_hash
                                           THEN NULL ELSE d.lease_until END,
                        attempts = CASE WHEN d.content_hash <> EXCLUDED.content_hash
                                        THEN 0 ELSE d.attempts END,
                        last_error = CASE WHEN d.content_hash <> EXCLUDED.content_hash
                                          THEN NULL ELSE d.last_error END
                     WHERE (d.content_hash <> EXCLUDED.content_hash
                            OR EXCLUDED.revision > coalesce(d.revision, -1))
                       AND NOT coalesce(EXCLUDED.revision < d.revision, false)
                    RETURNING d.id, d.ready_version
                )
                SELECT n.id,
                       CASE WHEN s.id IS NULL THEN 'new'
                            WHEN coalesce(n.revision < s.revision, false) THEN 'stale'
                            WHEN n.content_hash <> s.content_hash THEN 'changed'
                            ELSE 'unchanged'
                       END,
                       w.ready_version
                  FROM incoming n
                  LEFT JOIN stored s ON s.id = n.id
                  LEFT JOIN written w ON w.id = n.id
                """
            ),
            {"org_id": org_id, "rows": rows},
        ).all()
        return {
            document_id: (UpsertOutcome(outcome), version)
            for document_id, outcome, version in outcomes
        }

    def existing_document_ids(self, org_id: str, ids: Sequence[str]) -> set[str]:
        return set(
            self.connection.execute(
                select(Document.id).where(
                    Document.org_id == same_org(org_id),
                    Document.id == any_(cast(list(ids), ARRAY(Text))),
                )
            ).scalars()
        )

    def content_hashes(self, org_id: str, ids: Sequence[str]) -> dict[str, str]:
        rows = self.connection.execute(
            select(Document.id, Document.content_hash).where(
                Document.org_id == same_org(org_id),
                Document.id == any_(cast(list(ids), ARRAY(Text))),
            )
        ).all()
        return {row.id: row.content_hash for row in rows}

    def documents_for_posting(self, org_id: str, ids: Sequence[str]) -> list[StoredDocument]:
        rows = self.connection.execute(
            select(
                Document.id,
                Document.facts,
                Document.ready_version,
                Document.posted_version,
                Document.attempts,
            ).where(
                Document.org_id == same_org(org_id),
                Document.id == any_(cast(list(ids), ARRAY(Text))),
            )
        ).all()
        return [StoredDocument(*row) for row in rows]

    def document_states(self, org_id: str) -> list[DocumentState]:
        rows = self.connection.execute(
            text(
                """
                SELECT d.id, d.content_hash, d.ready_version, d.posted_version, d.failed_version,
                       coalesce(a.versions, '{}'), coalesce(a.repeated, 0)
                  FROM documents d
                  LEFT JOIN (
                       SELECT document_id, array_agg(DISTINCT document_version) AS versions,
                              count(*) - count(DISTINCT seq) AS repeated
                         FROM journal_entries
                        WHERE org_id = :org_id AND status = 'active'
                        GROUP BY document_id
                  ) a ON a.document_id = d.id
                 WHERE d.org_id = :org_id
                """
            ),
            {"org_id": org_id},
        ).all()
        return [DocumentState(r[0], r[1], r[2], r[3], r[4], tuple(r[5]), r[6]) for r in rows]

    def reset_revision(
        self, org_id: str, document_id: str, revision: int | None
    ) -> tuple[bool, int | None]:
        """Set the document's stored revision (None: forget it). Whether the document exists,
        and the revision it had."""
        row = self.connection.execute(
            text(
                f"""
                UPDATE documents d SET revision = CAST(:revision AS bigint)
                  FROM (SELECT id, revision FROM documents
                         WHERE org_id = {ORG} AND id = :id FOR UPDATE) AS before
                 WHERE d.org_id = {ORG} AND d.id = before.id
                RETURNING before.revision
                """
            ),
            {"org_id": org_id, "id": document_id, "revision": revision},
        ).one_or_none()
        return (False, None) if row is None else (True, row[0])

    def database_now(self) -> dt.datetime:
        return self.connection.execute(text("SELECT now()")).scalar_one()  # type: ignore[no-any-return]


def _document_row(document: NewDocument) -> str:
    return (
        f'{{"id":{json.dumps(document.id)},"type":{json.dumps(document.type)},'
        f'"content":{document.content_json},"facts":{document.facts_json},'
        f'"content_hash":"{document.content_hash}","cost":{document.cost},'
        f'"revision":{json.dumps(document.revision)}}}'
    )
