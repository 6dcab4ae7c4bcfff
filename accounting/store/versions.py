"""SQL of document versions: the version lock (posting is a compare-and-set of
``posted_version``), failures, and the new versions a recreate makes due."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, text

from accounting.domain.lanes import Lane
from accounting.store.sql import ORG


class VersionRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

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

    def request_recreate(
        self, org_id: str, ids: Sequence[str], *, lane: Lane, lease_seconds: float | None
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
            {"org_id": org_id, "ids": list(ids), "priority": lane.priority, "lease": lease_seconds},
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
