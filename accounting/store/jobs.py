"""SQL of jobs: the versions each one waits for, and how far each one has got."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, text

from accounting.domain.jobs import JobProgress
from accounting.store.models import PENDING

#: A job and its counts; the caller adds WHERE and GROUP BY j.id.
_PROGRESS = """
    SELECT j.id, j.org_id, j.kind, j.lane, j.total,
           count(*) FILTER (WHERE NOT jd.cancelled AND d.posted_version >= jd.version),
           count(*) FILTER (WHERE NOT jd.cancelled AND d.posted_version < jd.version
                              AND d.failed_version >= jd.version),
           count(*) FILTER (WHERE jd.cancelled)
      FROM jobs j
      LEFT JOIN job_documents jd ON jd.job_id = j.id
      LEFT JOIN documents d ON d.org_id = jd.org_id AND d.id = jd.document_id
"""


class JobRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def create(
        self,
        job_id: str,
        org_id: str,
        *,
        kind: str,
        lane: str,
        versions: Mapping[str, int],
        requested_by: str | None = None,
    ) -> bool:
        """Record the job and the version of each document it waits for. A job id seen
        before (the same message delivered twice) keeps what it first recorded: False."""
        inserted = self.connection.execute(
            text(
                """
                INSERT INTO jobs (id, org_id, kind, lane, total, requested_by)
                VALUES (:id, :org_id, :kind, :lane, :total, :requested_by)
                ON CONFLICT (id) DO NOTHING
                RETURNING id
                """
            ),
            {
                "id": job_id,
                "org_id": org_id,
                "kind": kind,
                "lane": lane,
                "total": len(versions),
                "requested_by": requested_by,
            },
        ).one_or_none()
        if inserted is None:
            return False
        if not versions:
            return True
        self.connection.execute(
            text(
                """
                INSERT INTO job_documents (job_id, org_id, document_id, version)
                SELECT :job_id, :org_id, d, v
                  FROM unnest(CAST(:ids AS text[]), CAST(:versions AS int[])) AS u(d, v)
                """
            ),
            {
                "job_id": job_id,
                "org_id": org_id,
                "ids": list(versions),
                "versions": list(versions.values()),
            },
        )
        return True

    def organization_of(self, job_id: str) -> str | None:
        """The organization of the job recorded under ``job_id``, if one is."""
        return self.connection.execute(
            text("SELECT org_id FROM jobs WHERE id = :id"), {"id": job_id}
        ).scalar_one_or_none()

    def touched(self, org_id: str, ranges: Mapping[str, tuple[int, int]]) -> list[tuple[str, str]]:
        """(job, document) pairs a posting or failure of these documents settles: the jobs
        waiting for a version in ``(before, now]`` of each document."""
        if not ranges:
            return []
        rows = self.connection.execute(
            text(
                """
                SELECT jd.job_id, jd.document_id
                  FROM job_documents jd
                  JOIN unnest(CAST(:ids AS text[]), CAST(:lows AS int[]), CAST(:highs AS int[]))
                       AS r(id, low, high) ON r.id = jd.document_id
                 WHERE jd.org_id = :org_id AND jd.version > r.low AND jd.version <= r.high
                """
            ),
            {
                "org_id": org_id,
                "ids": list(ranges),
                "lows": [low for low, _ in ranges.values()],
                "highs": [high for _, high in ranges.values()],
            },
        ).all()
        return [(job_id, document_id) for job_id, document_id in rows]

    def progress(self, job_ids: Sequence[str]) -> dict[str, JobProgress]:
        """By job id, whatever the organization: each carries its own, for callers to check."""
        rows = self.connection.execute(
            text(f"{_PROGRESS} WHERE j.id = ANY(:ids) GROUP BY j.id"), {"ids": list(job_ids)}
        ).all()
        return {row[0]: JobProgress(*row) for row in rows}

    def open_jobs(self, org_id: str, limit: int) -> list[JobProgress]:
        """The organization's jobs still waiting for a document, oldest first."""
        rows = self.connection.execute(
            text(
                f"""
                {_PROGRESS}
                 WHERE j.org_id = :org_id
                 GROUP BY j.id
                HAVING count(*) FILTER (WHERE NOT jd.cancelled
                                          AND d.posted_version < jd.version
                                          AND d.failed_version < jd.version) > 0
                 ORDER BY j.created_at
                 LIMIT :limit
                """
            ),
            {"org_id": org_id, "limit": limit},
        ).all()
        return [JobProgress(*row) for row in rows]

    def cancel(self, job_id: str) -> int:
        """Take back a recreate's documents that have not started: pending at the job's version
        and not in flight (a document being posted is left to finish). Each goes back to the
        version it was at before the recreate (which may itself still wait to be posted).
        Returns how many were taken back."""
        return len(
            self.connection.execute(
                text(
                    """
                    WITH target AS (
                        SELECT jd.org_id, jd.document_id, jd.version
                          FROM job_documents jd
                          JOIN jobs j ON j.id = jd.job_id AND j.kind = 'recreate'
                          JOIN documents d ON d.org_id = jd.org_id AND d.id = jd.document_id
                         WHERE jd.job_id = :job_id AND NOT jd.cancelled
                           AND d.ready_version = jd.version
                           AND d.posted_version < jd.version AND d.failed_version < jd.version
                           AND (d.lease_until IS NULL OR d.lease_until < now())
                           FOR UPDATE OF d
                    ), taken_back AS (
                        UPDATE documents d SET
                            ready_version = t.version - 1,
                            priority = 0, lease_until = NULL, attempts = 0
                          FROM target t
                         WHERE d.org_id = t.org_id AND d.id = t.document_id
                        RETURNING d.id
                    )
                    UPDATE job_documents jd SET cancelled = true
                      FROM taken_back b
                     WHERE jd.job_id = :job_id AND jd.document_id = b.id
                    RETURNING jd.document_id
                    """
                ),
                {"job_id": job_id},
            ).all()
        )

    def documents_ahead(self, job_id: str) -> int | None:
        """Documents of its lane that became due before the job and still wait: its place in
        the queue (None for an unknown job)."""
        return self.connection.execute(
            text(
                f"""
                SELECT (SELECT count(*) FROM documents d
                         WHERE {PENDING} AND d.priority = CASE j.lane WHEN 'high' THEN 1 ELSE 0 END
                           AND d.ready_at < j.created_at)
                  FROM jobs j WHERE j.id = :id
                """
            ),
            {"id": job_id},
        ).scalar_one_or_none()

    def delete_before(self, seconds: float) -> int:
        """Jobs (and the versions they waited for) created more than ``seconds`` ago."""
        result = self.connection.execute(
            text("DELETE FROM jobs WHERE created_at < now() - make_interval(secs => :seconds)"),
            {"seconds": seconds},
        )
        return int(result.rowcount)
