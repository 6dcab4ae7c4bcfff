"""SQL of the operator console: every organization's queue at a glance, dead letters and dead
intake found by their error, job history, and one document with its entry sets. Each read is
bounded by a LIMIT or by a partial index (pending, in flight, dead), never the whole history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from accounting.domain.intake import DeadMessage
from accounting.domain.jobs import JobProgress
from accounting.store.models import DEAD, PENDING
from accounting.store.sql import ORG

#: Job states a search can ask for: still waiting for a document, nothing left to wait for,
#: and finished with at least one document given up on.
JOB_STATES = ("open", "done", "failed")

#: The columns of a :class:`DeadMessage`, in its order.
INTAKE_COLUMNS = (
    "id, task_id, task_name, org_id, args, kwargs, reason, deliveries, recorded_at, retried_at"
)


@dataclass(frozen=True)
class OrgFigures:
    """One organization's queue, as the console's overview lists it."""

    org_id: str
    name: str
    paused: bool
    #: Per lane (``high``, ``normal``): documents waiting and how long the oldest has waited.
    pending: dict[str, int]
    oldest_pending_seconds: dict[str, float]
    in_flight: int
    dead: int
    dead_intake: int


@dataclass(frozen=True)
class DeadLetter:
    org_id: str
    document_id: str
    type: str
    version: int
    attempts: int
    error: str | None
    ready_at: dt.datetime


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


def _like(fragment: str) -> str:
    """``fragment`` as an ILIKE pattern that matches it anywhere, its wildcards taken literally."""
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ConsoleRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def organizations(self) -> list[OrgFigures]:
        """Every organization with its backlog per lane, in flight, dead and dead intake, each
        read from its partial index: the cost follows the backlog, not the history."""
        figures: dict[str, dict[str, Any]] = {}
        for org_id, name, paused in self.connection.execute(
            text("SELECT id, name, paused FROM organizations ORDER BY id")
        ).all():
            figures[org_id] = {
                "org_id": org_id,
                "name": name,
                "paused": paused,
                "pending": {"high": 0, "normal": 0},
                "oldest_pending_seconds": {"high": 0.0, "normal": 0.0},
                "in_flight": 0,
                "dead": 0,
                "dead_intake": 0,
            }
        for org_id, priority, pending, oldest in self.connection.execute(
            text(
                f"""
                SELECT org_id, priority, count(*),
                       extract(epoch FROM now() - min(ready_at))::float8
                  FROM documents WHERE {PENDING} GROUP BY org_id, priority
                """
            )
        ).all():
            lane = "high" if priority == 1 else "normal"
            figures[org_id]["pending"][lane] = pending
            figures[org_id]["oldest_pending_seconds"][lane] = oldest
        counts = f"""
            SELECT org_id, count(*), 'in_flight' FROM documents
             WHERE {PENDING} AND lease_until IS NOT NULL AND lease_until > now() GROUP BY org_id
            UNION ALL
            SELECT org_id, count(*), 'dead' FROM documents WHERE {DEAD} GROUP BY org_id
            UNION ALL
            SELECT org_id, count(*), 'dead_intake' FROM dead_intake
             WHERE retried_at IS NULL AND org_id IS NOT NULL GROUP BY org_id
            """
        for org_id, n, what in self.connection.execute(text(counts)).all():
            if org_id in figures:
                figures[org_id][what] = n
        return [OrgFigures(**values) for values in figures.values()]

    def dead_letters(self, org_id: str | None, error: str | None, limit: int) -> list[DeadLetter]:
        """Dead documents (of one organization, or all), those whose last error contains
        ``error`` (any case) when given, by organization and id."""
        rows = self.connection.execute(
            text(
                f"""
                SELECT org_id, id, type, ready_version, attempts, last_error, ready_at
                  FROM documents
                 WHERE {DEAD}
                   AND (CAST(:org_id AS text) IS NULL OR org_id = CAST(:org_id AS text))
                   AND (CAST(:error AS text) IS NULL
                        OR last_error ILIKE CAST(:error AS text))
                 ORDER BY org_id, id
                 LIMIT :limit
                """
            ),
            {"org_id": org_id, "error": _like(error) if error else None, "limit": limit},
        ).all()
        return [DeadLetter(*row) for row in rows]

    def revive_matching(self, org_id: str, error: str | None) -> int:
        """Make pending again every dead document of the organization whose last error
        contains ``error`` (all of them when None), with a fresh attempt count."""
        result = self.connection.execute(
            text(
                f"""
                UPDATE documents SET failed_version = 0, attempts = 0, lease_until = NULL,
                       ready_at = now()
                 WHERE org_id = {ORG} AND {DEAD}
                   AND (CAST(:error AS text) IS NULL
                        OR last_error ILIKE CAST(:error AS text))
                """
            ),
            {"org_id": org_id, "error": _like(error) if error else None},
        )
        return int(result.rowcount)

    def dead_intake(
        self, org_id: str | None, error: str | None, limit: int, *, retried: bool
    ) -> list[DeadMessage]:
        """Dead intake messages (of one organization, or all) whose reason contains ``error``
        when given, newest first."""
        rows = self.connection.execute(
            text(
                f"""
                SELECT {INTAKE_COLUMNS} FROM dead_intake
                 WHERE (CAST(:org_id AS text) IS NULL OR org_id = CAST(:org_id AS text))
                   AND (:retried OR retried_at IS NULL)
                   AND (CAST(:error AS text) IS NULL OR reason ILIKE CAST(:error AS text))
                 ORDER BY recorded_at DESC, id DESC
                 LIMIT :limit
                """
            ),
            {
                "org_id": org_id,
                "error": _like(error) if error else None,
                "limit": limit,
                "retried": retried,
            },
        ).all()
        return [DeadMessage(*row) for row in rows]

    def dead_intake_ids(self, org_id: str, error: str | None) -> list[int]:
        """Ids of the organization's messages not retried yet (and kept whole) whose reason
        contains ``error`` (all when None)."""
        return list(
            self.connection.execute(
                text(
                    """
                    SELECT id FROM dead_intake
                     WHERE org_id = :org_id AND retried_at IS NULL AND args IS NOT NULL
                       AND (CAST(:error AS text) IS NULL OR reason ILIKE CAST(:error AS text))
                     ORDER BY id
                    """
                ),
                {"org_id": org_id, "error": _like(error) if error else None},
            ).scalars()
        )

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
