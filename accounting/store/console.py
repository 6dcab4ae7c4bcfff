"""SQL of the operator console's queue side: every organization's queue at a glance, dead
letters and dead intake found by their error (its look-ups are in ``lookups.py``). Each read is
bounded by a LIMIT or by a partial index (pending, in flight, dead), never the whole history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from accounting.domain.intake import DeadMessage
from accounting.store.models import DEAD, PENDING
from accounting.store.sql import ORG

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
