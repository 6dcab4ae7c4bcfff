"""SQL of what the operator console looks up: job history with each job's counts, and one
document with its journal entries of every status and their lines. Each read is bounded by a
LIMIT or by a primary key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, text

from accounting.domain.jobs import JobProgress
from accounting.store.sql import ORG

#: Job states a search can ask for: still waiting for a document, nothing left to wait for,
#: and finished with at least one document given up on.
JOB_STATES = ("open", "done", "failed")


@dataclass(frozen=True)
class JobRecord:
    progress: JobProgress
    requested_by: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class DocumentRecord:
    org_id: str
    id: str
    type: str
    revision: int | None
    ready_version: int
    posted_version: int
    failed_version: int
    priority: int
    attempts: int
    last_error: str | None
    lease_until: dt.datetime | None
    ready_at: dt.datetime
    posted_at: dt.datetime | None
    #: Whether its lease is running now (handed to a worker).
    in_flight: bool


@dataclass(frozen=True)
class EntryLine:
    account: str
    currency: str
    amount: Decimal
    functional_amount: Decimal


@dataclass(frozen=True)
class EntryRecord:
    id: int
    document_version: int
    seq: int
    status: str
    entry_date: dt.date
    currency: str
    matrix_version: int
    reverses_id: int | None
    created_at: dt.datetime
    replaced_at: dt.datetime | None
    lines: tuple[EntryLine, ...]


class LookupRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def jobs(
        self,
        *,
        job_id: str | None,
        org_id: str | None,
        kind: str | None,
        state: str | None,
        since: dt.datetime | None,
        limit: int,
    ) -> list[JobRecord]:
        """Jobs matching every filter given, newest first, each with its counts (``state``:
        one of :data:`JOB_STATES`)."""
        rows = self.connection.execute(
            text(
                """
                SELECT * FROM (
                    SELECT j.id, j.org_id, j.kind, j.lane, j.total,
                           c.posted, c.failed, c.cancelled, j.requested_by, j.created_at
                      FROM jobs j
                      CROSS JOIN LATERAL (
                           SELECT count(*) FILTER (WHERE NOT jd.cancelled
                                                     AND d.posted_version >= jd.version)
                                    AS posted,
                                  count(*) FILTER (WHERE NOT jd.cancelled
                                                     AND d.posted_version < jd.version
                                                     AND d.failed_version >= jd.version)
                                    AS failed,
                                  count(*) FILTER (WHERE jd.cancelled) AS cancelled
                             FROM job_documents jd
                             JOIN documents d ON d.org_id = jd.org_id AND d.id = jd.document_id
                            WHERE jd.job_id = j.id
                      ) c
                     WHERE (CAST(:job_id AS text) IS NULL OR j.id = CAST(:job_id AS text))
                       AND (CAST(:org_id AS text) IS NULL OR j.org_id = CAST(:org_id AS text))
                       AND (CAST(:kind AS text) IS NULL OR j.kind = CAST(:kind AS text))
                       AND (CAST(:since AS timestamptz) IS NULL
                            OR j.created_at >= CAST(:since AS timestamptz))
                ) AS found
                 WHERE CASE CAST(:state AS text)
                         WHEN 'open' THEN posted + failed + cancelled < total
                         WHEN 'done' THEN posted + failed + cancelled >= total
                         WHEN 'failed' THEN failed > 0 AND posted + failed + cancelled >= total
                         ELSE true
                       END
                 ORDER BY created_at DESC, id
                 LIMIT :limit
                """
            ),
            {
                "job_id": job_id,
                "org_id": org_id,
                "kind": kind,
                "state": state,
                "since": since,
                "limit": limit,
            },
        ).all()
        return [JobRecord(JobProgress(*row[:8]), row[8], row[9]) for row in rows]

    def document(self, org_id: str, document_id: str) -> DocumentRecord | None:
        row = self.connection.execute(
            text(
                f"""
                SELECT org_id, id, type, revision, ready_version, posted_version, failed_version,
                       priority, attempts, last_error, lease_until, ready_at, posted_at,
                       coalesce(lease_until > now(), false)
                  FROM documents WHERE org_id = {ORG} AND id = :id
                """
            ),
            {"org_id": org_id, "id": document_id},
        ).one_or_none()
        return None if row is None else DocumentRecord(*row)

    def entries(self, org_id: str, document_id: str, limit: int) -> list[EntryRecord]:
        """The document's journal entries, every status (active, retired, reversed,
        reversal), newest ``limit`` of them, oldest first, with their lines."""
        entries = self.connection.execute(
            text(
                f"""
                SELECT * FROM (
                    SELECT id, document_version, seq, status, entry_date, currency,
                           matrix_version, reverses_id, created_at, replaced_at
                      FROM journal_entries
                     WHERE org_id = {ORG} AND document_id = :id
                     ORDER BY id DESC LIMIT :limit
                ) AS newest ORDER BY id
                """
            ),
            {"org_id": org_id, "id": document_id, "limit": limit},
        ).all()
        lines = self._lines(org_id, [row[0] for row in entries])
        return [
            EntryRecord(
                id=row.id,
                document_version=row.document_version,
                seq=row.seq,
                status=row.status,
                entry_date=row.entry_date,
                currency=row.currency,
                matrix_version=row.matrix_version,
                reverses_id=row.reverses_id,
                created_at=row.created_at,
                replaced_at=row.replaced_at,
                lines=tuple(lines.get(row.id, ())),
            )
            for row in entries
        ]

    def _lines(self, org_id: str, entry_ids: Sequence[int]) -> dict[int, list[EntryLine]]:
        lines: dict[int, list[EntryLine]] = {}
        if not entry_ids:
            return lines
        for entry_id, *line in self.connection.execute(
            text(
                f"""
                SELECT entry_id, account_code, currency, amount, functional_amount
                  FROM journal_lines
                 WHERE org_id = {ORG} AND entry_id = ANY(CAST(:ids AS bigint[]))
                 ORDER BY id
                """
            ),
            {"org_id": org_id, "ids": list(entry_ids)},
        ).all():
            lines.setdefault(entry_id, []).append(EntryLine(*line))
        return lines
