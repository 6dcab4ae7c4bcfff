"""SQL of what operators read and set on the queue: scheduling settings, backlog figures,
dead letters and their revival."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Text, any_, cast, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from accounting.domain.lanes import Lane
from accounting.store.models import DEAD, PENDING, Document, Organization
from accounting.store.sql import ORG


@dataclass(frozen=True)
class OrgSchedule:
    """How the dispatcher treats one organization's queue."""

    org_id: str
    paused: bool
    weight: int
    max_in_flight: int | None
    rate_per_second: Decimal | None


@dataclass(frozen=True)
class DeadDocument:
    org_id: str
    document_id: str
    version: int
    attempts: int
    error: str | None


class QueueRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def schedules(self, org_ids: Sequence[str] | None = None) -> dict[str, OrgSchedule]:
        """Scheduling settings of the given organizations (or of the paused ones when None)."""
        query = select(
            Organization.id,
            Organization.paused,
            Organization.weight,
            Organization.max_in_flight,
            Organization.rate_per_second,
        )
        query = (
            query.where(Organization.id == any_(cast(list(org_ids), ARRAY(Text))))
            if org_ids is not None
            else query.where(Organization.paused)
        )
        return {row[0]: OrgSchedule(*row) for row in self.connection.execute(query).all()}

    def oldest_pending_age_seconds(self, org_id: str | None = None) -> dict[Lane, float]:
        """``{lane: seconds}`` the oldest waiting document of each lane has waited,
        in one organization or all (read from the pending indexes: one row per lane)."""
        where = "AND org_id = :org_id" if org_id is not None else ""
        rows = self.connection.execute(
            text(
                f"""
                SELECT priority, extract(epoch FROM now() - min(ready_at))::float8
                  FROM documents WHERE {PENDING} {where} GROUP BY priority
                """
            ),
            {"org_id": org_id},
        ).all()
        return {Lane.of_priority(priority): age for priority, age in rows}

    def set_schedule(self, org_id: str, **values: Any) -> bool:
        """Update ``paused``, ``weight``, ``max_in_flight`` or ``rate_per_second``."""
        result = self.connection.execute(
            update(Organization).where(Organization.id == org_id).values(**values)
        )
        return bool(result.rowcount)

    def pending_count(self, org_ids: Sequence[str]) -> int:
        """Documents of these organizations still to post: read from the pending indexes, so
        it costs what is left, not the organizations' size."""
        return int(
            self.connection.execute(
                text(f"SELECT count(*) FROM documents WHERE org_id = ANY(:orgs) AND {PENDING}"),
                {"orgs": list(org_ids)},
            ).scalar_one()
        )

    def status_counts(self, org_id: str | None = None) -> dict[str, int]:
        where = "WHERE org_id = :org_id" if org_id is not None else ""
        row = self.connection.execute(
            text(
                f"""
                SELECT
                  count(*) FILTER (WHERE {PENDING} AND priority = 1) AS pending_high,
                  count(*) FILTER (WHERE {PENDING} AND priority = 0) AS pending_normal,
                  count(*) FILTER (WHERE {PENDING} AND lease_until > now()) AS in_flight,
                  count(*) FILTER (WHERE posted_version = ready_version) AS posted,
                  count(*) FILTER (WHERE failed_version = ready_version) AS dead,
                  count(*) AS documents
                FROM documents {where}
                """
            ),
            {"org_id": org_id},
        ).one()
        return dict(row._mapping)

    def lane_counts(self, org_id: str | None = None) -> dict[str, int]:
        """Pending per lane, in flight and dead, each read from its small partial index: what
        a scrape asks, at a cost that follows the backlog, not the documents ever stored."""
        statement = self.lane_counts_statement(org_id)
        row = self.connection.execute(text(statement), {"org_id": org_id}).one()
        return dict(row._mapping)

    @staticmethod
    def lane_counts_statement(org_id: str | None) -> str:
        org = "AND org_id = :org_id" if org_id is not None else ""
        return f"""
            SELECT
              (SELECT count(*) FROM documents WHERE {PENDING} AND priority = 1 {org})
                AS pending_high,
              (SELECT count(*) FROM documents WHERE {PENDING} AND priority = 0 {org})
                AS pending_normal,
              (SELECT count(*) FROM documents
                WHERE {PENDING} AND lease_until IS NOT NULL AND lease_until > now() {org})
                AS in_flight,
              (SELECT count(*) FROM documents WHERE {DEAD} {org}) AS dead
            """

    def dead_documents(self, org_id: str | None, limit: int) -> list[DeadDocument]:
        query = select(
            Document.org_id,
            Document.id,
            Document.ready_version,
            Document.attempts,
            Document.last_error,
        ).where(Document.failed_version == Document.ready_version)
        if org_id is not None:
            query = query.where(Document.org_id == org_id)
        rows = self.connection.execute(
            query.order_by(Document.org_id, Document.id).limit(limit)
        ).all()
        return [DeadDocument(*row) for row in rows]

    def abandon_pending(self, org_id: str, reason: str) -> int:
        result = self.connection.execute(
            text(
                f"""
                UPDATE documents SET failed_version = ready_version, last_error = :reason,
                       lease_until = NULL, priority = 0
                 WHERE org_id = {ORG} AND {PENDING}
                """
            ),
            {"org_id": org_id, "reason": reason},
        )
        return int(result.rowcount)

    def vacuum_queue(self) -> None:
        """VACUUM ANALYZE the documents table (outside any transaction): clears the dead
        entries a mass update leaves at the head of the pending indexes."""
        autocommit = self.connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.execute(text("VACUUM (ANALYZE) documents"))

    def revive(self, org_id: str, document_ids: Sequence[str] | None) -> int:
        """Make dead documents pending again (all of the organization's, or the given ones),
        with a fresh attempt count."""
        query = (
            update(Document)
            .where(Document.org_id == org_id, Document.failed_version == Document.ready_version)
            .values(failed_version=0, attempts=0, lease_until=None, ready_at=func.now())
        )
        if document_ids is not None:
            query = query.where(Document.id == any_(cast(list(document_ids), ARRAY(Text))))
        return int(self.connection.execute(query).rowcount)

    def posted_since(self, org_id: str, since: dt.datetime) -> int:
        """The organization's documents posted at or after ``since`` (a scan of its rows: for
        the tools, never on a periodic path)."""
        return int(
            self.connection.execute(
                text(
                    "SELECT count(*) FROM documents WHERE org_id = :org_id AND posted_at >= :since"
                ),
                {"org_id": org_id, "since": since},
            ).scalar_one()
        )
