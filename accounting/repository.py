"""SQL of organizations, documents (their content and versions) and the journal."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, ScalarSelect, Text, insert, literal, select, text

from accounting.ledger import EntryDraft, LineDraft, PostedEntry
from accounting.models import (
    Document,
    JournalEntry,
    JournalLine,
    Organization,
)
from accounting.models import PostingMatrix as PostingMatrixRow

HIGH, NORMAL = 1, 0

# The organization as a query parameter the planner cannot see. A new or fast-growing
# organization is missing from the table statistics; planned with its literal id, "org_id = x"
# looks like one row and Postgres scans the whole organization instead of probing the primary
# key for the batch's ids (measured: 95 ms instead of 2 ms for 60 documents of a 5,000-document
# organization, growing with the organization).
ORG = "(SELECT CAST(:org_id AS text))"


@dataclass(frozen=True)
class OrganizationRow:
    id: str
    functional_currency: str
    matrix_version: int | None
    paused: bool
    rounding_account: str | None
    rounding_tolerance: Decimal
    #: When the current matrix version was published: with the version, the cache key (a
    #: database rebuilt from scratch numbers versions from 1 again; it cannot repeat this).
    matrix_published_at: dt.datetime | None


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
class NewEntry:
    draft: EntryDraft
    #: The document version being posted (a reversal belongs to the version that caused it).
    document_version: int
    #: The version whose active set this entry's set replaces.
    replaces_version: int | None = None


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


class Repository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # -- organizations, chart of accounts, posting matrix -----------------------------------

    def get_organization(self, org_id: str) -> OrganizationRow | None:
        row = self.connection.execute(
            select(
                Organization.id,
                Organization.functional_currency,
                Organization.matrix_version,
                Organization.paused,
                Organization.rounding_account,
                Organization.rounding_tolerance,
                PostingMatrixRow.published_at,
            )
            .outerjoin(
                PostingMatrixRow,
                (PostingMatrixRow.org_id == Organization.id)
                & (PostingMatrixRow.version == Organization.matrix_version),
            )
            .where(Organization.id == org_id)
        ).one_or_none()
        return OrganizationRow(*row) if row else None

    def add_organization(self, org_id: str, name: str, functional_currency: str) -> None:
        self.connection.execute(
            insert(Organization).values(
                id=org_id, name=name, functional_currency=functional_currency
            )
        )

    # -- documents ---------------------------------------------------------------------------

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
                select(Document.id).where(Document.org_id == same_org(org_id), Document.id.in_(ids))
            ).scalars()
        )

    def request_recreate(
        self, org_id: str, ids: Sequence[str], *, priority: int, lease_seconds: float | None
    ) -> dict[str, int]:
        """Bump each document's ``ready_version``; return ``{id: new version}``. With a lease the
        caller posts them itself and the dispatcher leaves them alone until it expires."""
        rows = self.connection.execute(
            text(
                f"""
                UPDATE documents SET
                    ready_version = ready_version + 1, ready_at = now(), priority = :priority,
                    attempts = 0, last_error = NULL,
                    lease_until = CASE WHEN CAST(:lease AS float8) IS NULL THEN NULL
                                       ELSE now() + make_interval(secs => :lease) END
                WHERE org_id = {ORG} AND id = ANY(:ids)
                RETURNING id, ready_version
                """
            ),
            {"org_id": org_id, "ids": list(ids), "priority": priority, "lease": lease_seconds},
        ).all()
        return {doc_id: version for doc_id, version in rows}

    def recreate_next(
        self, org_id: str, after_id: str, before: dt.datetime, limit: int
    ) -> list[str]:
        """Give the next ``limit`` documents (in id order after ``after_id``) a new version on
        the normal lane, skipping those made ready at or after ``before`` (already recreated
        by this request, so a resumed request never redoes them). Returns their ids in the
        database's order: the last one is where the next call starts."""
        return list(
            self.connection.execute(
                text(
                    f"""
                    WITH next AS (
                        SELECT id FROM documents
                         WHERE org_id = {ORG} AND id > :after AND ready_at < :before
                         ORDER BY id LIMIT :limit
                    ), bumped AS (
                        UPDATE documents d SET
                            ready_version = d.ready_version + 1, ready_at = now(), priority = 0,
                            attempts = 0, last_error = NULL, lease_until = NULL
                          FROM next WHERE d.org_id = {ORG} AND d.id = next.id
                        RETURNING d.id
                    )
                    SELECT id FROM bumped ORDER BY id
                    """
                ),
                {"org_id": org_id, "after": after_id, "before": before, "limit": limit},
            ).scalars()
        )

    def database_now(self) -> dt.datetime:
        return self.connection.execute(text("SELECT now()")).scalar_one()  # type: ignore[no-any-return]

    def content_hashes(self, org_id: str, ids: Sequence[str]) -> dict[str, str]:
        rows = self.connection.execute(
            select(Document.id, Document.content_hash).where(
                Document.org_id == same_org(org_id), Document.id.in_(ids)
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
            ).where(Document.org_id == same_org(org_id), Document.id.in_(ids))
        ).all()
        return [StoredDocument(*row) for row in rows]

    def mark_posted(self, org_id: str, versions: dict[str, int]) -> dict[str, float]:
        """The optimistic compare-and-set: record ``posted_version = v`` for each document whose
        ``ready_version`` is still ``v`` and not yet posted. Rows are locked in id order (no
        deadlock between overlapping batches); a racing transaction waits, then re-checks and
        finds nothing to do. Returns the ids this transaction won. (``id = ANY`` keeps the
        plan on the primary key whatever the statistics say about the unnest join.) Each won
        id comes with the seconds since its version became due (the posting latency)."""
        if not versions:
            return {}
        ids = sorted(versions)
        rows = self.connection.execute(
            text(
                f"""
                    WITH wanted AS (
                        SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:versions AS int[]))
                            AS t(id, version)
                    ), locked AS (
                        SELECT d.id, wanted.version FROM documents d
                          JOIN wanted ON wanted.id = d.id
                         WHERE d.org_id = {ORG} AND d.id = ANY(CAST(:ids AS text[]))
                           AND d.ready_version = wanted.version
                           AND d.posted_version < wanted.version
                         ORDER BY d.id
                           FOR UPDATE OF d
                    )
                    UPDATE documents d SET
                        posted_version = locked.version, posted_at = now(), priority = 0,
                        attempts = 0, lease_until = NULL, last_error = NULL
                      FROM locked
                     WHERE d.org_id = {ORG} AND d.id = locked.id
                    RETURNING d.id,
                              extract(epoch FROM clock_timestamp() - d.ready_at)::float8
                    """
            ),
            {"org_id": org_id, "ids": ids, "versions": [versions[i] for i in ids]},
        ).all()
        return {document_id: seconds for document_id, seconds in rows}

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

    def mark_failed(self, org_id: str, failures: dict[str, tuple[int, str]]) -> None:
        """Record ``{id: (version, reason)}`` as failed unless a newer version arrived."""
        if not failures:
            return
        ids = sorted(failures)
        self.connection.execute(
            text(
                f"""
                UPDATE documents d SET
                    failed_version = f.version, last_error = f.reason,
                    lease_until = NULL, priority = 0
                  FROM unnest(CAST(:ids AS text[]), CAST(:versions AS int[]),
                              CAST(:reasons AS text[])) AS f(id, version, reason)
                 WHERE d.org_id = {ORG} AND d.id = f.id AND d.id = ANY(CAST(:ids AS text[]))
                   AND d.ready_version = f.version AND d.posted_version < f.version
                """
            ),
            {
                "org_id": org_id,
                "ids": ids,
                "versions": [failures[i][0] for i in ids],
                "reasons": [failures[i][1] for i in ids],
            },
        )

    # -- journal -----------------------------------------------------------------------------

    def replace_active_entries(
        self, org_id: str, document_ids: Sequence[str], closed_periods: Iterable[dt.date]
    ) -> tuple[dict[str, int], list[int]]:
        """Take the documents' active entries out of the active set: retired where their
        period is open, reversed (to be cancelled by a reversal entry) where it is closed.
        Returns ``{document id: version replaced}`` and the ids of the reversed entries."""
        if not document_ids:
            return {}, []
        rows = self.connection.execute(
            text(
                f"""
                UPDATE journal_entries SET
                    status = CASE WHEN date_trunc('month', entry_date)::date
                                       = ANY(CAST(:closed AS date[]))
                                  THEN 'reversed' ELSE 'retired' END,
                    replaced_at = now()
                 WHERE org_id = {ORG} AND document_id = ANY(CAST(:ids AS text[]))
                   AND status = 'active'
                RETURNING id, document_id, document_version, status
                """
            ),
            {"org_id": org_id, "ids": list(document_ids), "closed": sorted(closed_periods)},
        ).all()
        replaced = {document_id: version for _, document_id, version, _ in rows}
        return replaced, sorted(entry_id for entry_id, *_, status in rows if status == "reversed")

    def posted_entries(self, org_id: str, entry_ids: Sequence[int]) -> list[PostedEntry]:
        """The organization's entries among ``entry_ids``, with their lines, as stored."""
        if not entry_ids:
            return []
        entries = self.connection.execute(
            select(
                JournalEntry.id,
                JournalEntry.document_id,
                JournalEntry.document_type,
                JournalEntry.entry_date,
                JournalEntry.currency,
                JournalEntry.matrix_version,
                JournalEntry.seq,
            )
            .where(JournalEntry.org_id == org_id, JournalEntry.id.in_(entry_ids))
            .order_by(JournalEntry.id)
        ).all()
        lines: dict[int, list[LineDraft]] = {entry_id: [] for entry_id in entry_ids}
        for row in self.connection.execute(
            select(
                JournalLine.entry_id,
                JournalLine.account_code,
                JournalLine.amount,
                JournalLine.currency,
                JournalLine.functional_amount,
                JournalLine.rate,
                JournalLine.rate_source,
                JournalLine.rate_date,
            )
            .where(JournalLine.org_id == org_id, JournalLine.entry_id.in_(entry_ids))
            .order_by(JournalLine.id)
        ).all():
            entry_id, account, amount, currency, functional, rate, source, rate_date = row
            lines[entry_id].append(
                LineDraft(account, amount, currency, functional, rate, source, rate_date)
            )
        return [
            PostedEntry(
                entry_id,
                EntryDraft(doc, doc_type, day, currency, matrix, tuple(lines[entry_id]), seq),
            )
            for entry_id, doc, doc_type, day, currency, matrix, seq in entries
        ]

    def add_entries(self, org_id: str, entries: Sequence[NewEntry]) -> None:
        """Insert entries and their lines with COPY (ids taken from the sequence up front, so
        lines can name their entry without a round trip)."""
        if not entries:
            return
        cursor = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        ids = [
            row[0]
            for row in cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('journal_entries', 'id'))"
                " FROM generate_series(1, %s)",
                (len(entries),),
            )
        ]
        with cursor.copy(
            "COPY journal_entries (id, org_id, document_id, document_version, seq, document_type,"
            " matrix_version, entry_date, currency, status, reverses_id, replaces_version)"
            " FROM STDIN"
        ) as copy:
            for entry_id, entry in zip(ids, entries, strict=True):
                draft = entry.draft
                copy.write_row(
                    (
                        entry_id,
                        org_id,
                        draft.document_id,
                        entry.document_version,
                        draft.seq,
                        draft.document_type,
                        draft.matrix_version,
                        draft.entry_date,
                        draft.currency,
                        "active" if draft.reverses_id is None else "reversal",
                        draft.reverses_id,
                        entry.replaces_version,
                    )
                )
        with cursor.copy(
            "COPY journal_lines (entry_id, org_id, account_code, currency, amount,"
            " functional_amount, rate, rate_source, rate_date) FROM STDIN"
        ) as copy:
            for entry_id, entry in zip(ids, entries, strict=True):
                for line in entry.draft.lines:
                    copy.write_row(
                        (
                            entry_id,
                            org_id,
                            line.account,
                            line.currency,
                            line.amount,
                            line.functional_amount,
                            line.rate,
                            line.rate_source,
                            line.rate_date,
                        )
                    )


def same_org(org_id: str) -> ScalarSelect[str]:
    """``ORG`` for Core queries."""
    return select(literal(org_id, Text)).scalar_subquery()


def _document_row(document: NewDocument) -> str:
    return (
        f'{{"id":{json.dumps(document.id)},"type":{json.dumps(document.type)},'
        f'"content":{document.content_json},"facts":{document.facts_json},'
        f'"content_hash":"{document.content_hash}","cost":{document.cost},'
        f'"revision":{json.dumps(document.revision)}}}'
    )
