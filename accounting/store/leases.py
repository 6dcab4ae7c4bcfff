"""SQL of leases: the dispatcher's leadership, claims of pending documents (a lease on each),
their expiry, postponement after a failure and hand-back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Text, any_, cast, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from accounting.domain.batching import Claim
from accounting.domain.lanes import Lane
from accounting.store.models import PENDING, Document
from accounting.store.sql import ORG, same_org

#: The lease one dispatcher holds to lead.
LEADER_LEASE = "dispatcher"


@dataclass(frozen=True)
class Buried:
    """A version given up on after too many failed postings."""

    org_id: str
    document_id: str
    #: The version posted before, and the one given up on.
    posted_version: int
    version: int
    reason: str


class LeaseRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def acquire_leadership(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take or renew the named lease; True while ``holder`` has it."""
        row = self.connection.execute(
            text(
                """
                INSERT INTO dispatcher_leases (name, holder, expires_at)
                VALUES (:name, :holder, now() + make_interval(secs => :ttl))
                ON CONFLICT (name) DO UPDATE
                   SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                 WHERE dispatcher_leases.holder = EXCLUDED.holder
                    OR dispatcher_leases.expires_at < now()
                RETURNING holder
                """
            ),
            {"name": name, "holder": holder, "ttl": ttl_seconds},
        ).one_or_none()
        return row is not None

    def leader(self, name: str) -> str | None:
        """Who holds the named lease now, if anyone."""
        holder: str | None = self.connection.execute(
            text("SELECT holder FROM dispatcher_leases WHERE name = :name AND expires_at > now()"),
            {"name": name},
        ).scalar_one_or_none()
        return holder

    def release_leadership(self, name: str, holder: str) -> bool:
        """Give up the named lease if ``holder`` has it, so a standby need not wait for it to
        expire; True if it was released."""
        released = self.connection.execute(
            text("DELETE FROM dispatcher_leases WHERE name = :name AND holder = :holder"),
            {"name": name, "holder": holder},
        ).rowcount
        return bool(released)

    def release_expired_leases(self) -> int:
        """Clear the leases of pending documents that ran out: they show as waiting, not in
        flight, and any dispatcher takes them again."""
        result = self.connection.execute(
            text(
                f"""
                UPDATE documents SET lease_until = NULL
                 WHERE {PENDING} AND lease_until IS NOT NULL AND lease_until < now()
                """
            )
        )
        return int(result.rowcount)

    def bury_exhausted(self, max_attempts: int) -> list[Buried]:
        """Give up on versions whose posting failed ``max_attempts`` times, once the backoff of
        the last failure has run out. (A failure postpones with a lease, so only leased rows are
        looked at: the small lease index, not the backlog.)"""
        rows = self.connection.execute(
            text(
                f"""
                WITH exhausted AS (
                    SELECT org_id, id FROM documents
                     WHERE {PENDING} AND attempts >= :max_attempts
                       AND lease_until IS NOT NULL AND lease_until < now()
                       FOR UPDATE SKIP LOCKED
                )
                UPDATE documents d SET
                    failed_version = d.ready_version, lease_until = NULL, priority = 0,
                    last_error = 'gave up after ' || d.attempts || ' attempts'
                                 || coalesce(': ' || d.last_error, '')
                  FROM exhausted e
                 WHERE d.org_id = e.org_id AND d.id = e.id
                RETURNING d.org_id, d.id, d.posted_version, d.ready_version, d.last_error
                """
            ),
            {"max_attempts": max_attempts},
        ).all()
        return [Buried(*row) for row in rows]

    def extend(self, org_id: str, ids: Sequence[str], lease_seconds: float) -> int:
        """Keep the leases of documents whose batch is still waiting in the broker, so they are
        not handed out a second time while the first one waits."""
        result = self.connection.execute(
            text(
                f"""
                UPDATE documents SET lease_until = now() + make_interval(secs => :lease)
                 WHERE org_id = {ORG} AND id = ANY(CAST(:ids AS text[])) AND {PENDING}
                   AND lease_until IS NOT NULL
                """
            ),
            {"org_id": org_id, "ids": list(ids), "lease": lease_seconds},
        )
        return int(result.rowcount)

    def claim_pending(
        self,
        lane: Lane,
        limit: int,
        lease_seconds: float,
        excluded_orgs: Sequence[str] = (),
    ) -> list[Claim]:
        """Lease up to ``limit`` pending documents of one lane, oldest first, across
        organizations (but those in ``excluded_orgs``)."""
        if limit <= 0:
            return []
        rows = self.connection.execute(
            text(
                f"""
                WITH picked AS (
                    SELECT org_id, id FROM documents
                     WHERE {PENDING} AND priority = :priority
                       AND (lease_until IS NULL OR lease_until < now())
                       AND org_id <> ALL(CAST(:excluded AS text[]))
                     ORDER BY ready_at
                     LIMIT :limit
                       FOR UPDATE SKIP LOCKED
                )
                UPDATE documents d SET lease_until = now() + make_interval(secs => :lease)
                  FROM picked
                 WHERE d.org_id = picked.org_id AND d.id = picked.id
                RETURNING d.org_id, d.id, d.ready_version, d.priority, d.cost, d.attempts
                """
            ),
            {
                "priority": lane.priority,
                "limit": limit,
                "lease": lease_seconds,
                "excluded": list(excluded_orgs),
            },
        ).all()
        return [_claim(*row) for row in rows]

    def claim_from_org(
        self,
        org_id: str,
        lane: Lane,
        *,
        max_documents: int,
        max_cost: int,
        lease_seconds: float,
    ) -> tuple[list[Claim], bool]:
        """Lease the organization's oldest pending documents of ``lane``, as many as fit in
        ``max_cost`` (their estimated costs added up in queue order) and ``max_documents``.
        Also says whether the next document was held back because it costs more than is left."""
        if max_documents <= 0:
            return [], False
        candidates = self.connection.execute(
            text(
                f"""
                SELECT id, cost FROM documents
                 WHERE org_id = {ORG} AND {PENDING} AND priority = :priority
                   AND (lease_until IS NULL OR lease_until < now())
                 ORDER BY ready_at
                 LIMIT :max_documents
                   FOR UPDATE SKIP LOCKED
                """
            ),
            {"org_id": org_id, "max_documents": max_documents, "priority": lane.priority},
        ).all()
        picked, total = [], 0
        for doc_id, cost in candidates:
            if total + cost > max_cost:
                break
            picked.append(doc_id)
            total += cost
        held_back = len(picked) < len(candidates)
        if not picked:
            return [], held_back
        rows = self.connection.execute(
            text(
                f"""
                UPDATE documents SET lease_until = now() + make_interval(secs => :lease)
                 WHERE org_id = {ORG} AND id = ANY(CAST(:ids AS text[]))
                RETURNING org_id, id, ready_version, priority, cost, attempts
                """
            ),
            {"org_id": org_id, "ids": picked, "lease": lease_seconds},
        ).all()
        order = {doc_id: n for n, doc_id in enumerate(picked)}
        claims = sorted((_claim(*row) for row in rows), key=lambda c: order[c.document_id])
        return claims, held_back

    def organizations_with_work(self, lane: Lane) -> list[str]:
        """Organizations with pending documents on ``lane``: a skip scan of the
        per-organization index, one probe per organization however long each queue is."""
        return list(
            self.connection.execute(
                text(
                    f"""
                    WITH RECURSIVE orgs(org_id) AS (
                        (SELECT org_id FROM documents WHERE {PENDING} AND priority = :priority
                          ORDER BY org_id LIMIT 1)
                        UNION ALL
                        SELECT (SELECT d.org_id FROM documents d
                                 WHERE {PENDING} AND d.priority = :priority
                                   AND d.org_id > orgs.org_id
                                 ORDER BY d.org_id LIMIT 1)
                          FROM orgs WHERE orgs.org_id IS NOT NULL
                    )
                    SELECT org_id FROM orgs WHERE org_id IS NOT NULL
                    """
                ),
                {"priority": lane.priority},
            ).scalars()
        )

    def in_flight(self) -> dict[tuple[str, Lane], tuple[int, int]]:
        """``{(org, lane): (documents, estimated cost)}`` leased and not yet posted."""
        rows = self.connection.execute(
            text(
                f"""
                SELECT org_id, priority, count(*), sum(cost) FROM documents
                 WHERE {PENDING} AND lease_until IS NOT NULL AND lease_until > now()
                 GROUP BY org_id, priority
                """
            )
        ).all()
        return {
            (org, Lane.of_priority(priority)): (int(n), int(cost))
            for org, priority, n, cost in rows
        }

    def postpone(
        self, org_id: str, errors: dict[str, tuple[int, str]], delays: dict[str, float]
    ) -> None:
        """Record ``{id: (version, error)}``, count a failed attempt, and keep each document
        leased for its delay, so it is retried after a backoff (and given up after too many
        attempts)."""
        if not errors:
            return
        ids = sorted(errors)
        self.connection.execute(
            text(
                f"""
                UPDATE documents d SET
                    last_error = e.reason, attempts = d.attempts + 1,
                    lease_until = now() + make_interval(secs => e.delay)
                  FROM unnest(CAST(:ids AS text[]), CAST(:versions AS int[]),
                              CAST(:reasons AS text[]), CAST(:delays AS float8[]))
                       AS e(id, version, reason, delay)
                 WHERE d.org_id = {ORG} AND d.id = e.id AND d.id = ANY(CAST(:ids AS text[]))
                   AND d.ready_version = e.version AND d.posted_version < e.version
                """
            ),
            {
                "org_id": org_id,
                "ids": ids,
                "versions": [errors[i][0] for i in ids],
                "reasons": [errors[i][1] for i in ids],
                "delays": [delays[i] for i in ids],
            },
        )

    def release_leases(self, org_id: str, ids: Sequence[str] | None) -> None:
        """Hand leased documents (or all the organization's) back so the dispatcher can claim
        them again at once."""
        query = update(Document).where(Document.org_id == same_org(org_id))
        if ids is not None:
            query = query.where(Document.id == any_(cast(list(ids), ARRAY(Text))))
        self.connection.execute(
            query.where(text(f"{PENDING} AND lease_until IS NOT NULL")).values(lease_until=None)
        )


def _claim(
    org_id: str, document_id: str, version: int, priority: int, cost: int, attempts: int
) -> Claim:
    return Claim(org_id, document_id, version, Lane.of_priority(priority), cost, attempts)
