"""SQL of the audit: each check's query over one organization or all, and its recorded runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from accounting.store.models import PENDING

#: Restricts a check to one organization, or none when :org_id is null.
_SCOPE = "(CAST(:org_id AS text) IS NULL OR {alias}.org_id = CAST(:org_id AS text))"


@dataclass(frozen=True)
class Finding:
    check: str
    org_id: str
    detail: str
    document_id: str | None = None
    entry_id: int | None = None


@dataclass(frozen=True)
class CheckResult:
    check: str
    #: Every finding counted; at most the sample asked for is kept.
    count: int
    sample: list[Finding]


@dataclass(frozen=True)
class AuditRunRow:
    id: int
    org_id: str | None
    finished_at_epoch: float | None
    findings: int
    by_check: dict[str, int]


#: check name -> (what it means, its query). Each query returns (org_id, document_id,
#: entry_id, detail, total) rows, ``total`` being the count of all its rows.
CHECKS: dict[str, tuple[str, str]] = {
    "entry_unbalanced_in_currency": (
        "an entry whose lines do not sum to zero in one of its currencies",
        f"""
        SELECT l.org_id, e.document_id, l.entry_id,
               l.currency || ' lines sum to ' || sum(l.amount), count(*) OVER ()
          FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
         WHERE {_SCOPE.format(alias="l")}
         GROUP BY l.org_id, e.document_id, l.entry_id, l.currency HAVING sum(l.amount) <> 0
        """,
    ),
    "entry_unbalanced_in_functional_currency": (
        "an entry whose lines do not sum to zero in the functional currency",
        f"""
        SELECT l.org_id, e.document_id, l.entry_id,
               'functional amounts sum to ' || sum(l.functional_amount), count(*) OVER ()
          FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
         WHERE {_SCOPE.format(alias="l")}
         GROUP BY l.org_id, e.document_id, l.entry_id HAVING sum(l.functional_amount) <> 0
        """,
    ),
    "document_with_two_active_sets": (
        "a document whose active entries belong to more than one version, or repeat a set",
        f"""
        SELECT e.org_id, e.document_id, NULL::bigint,
               'active entries of versions '
                   || array_to_string(array_agg(DISTINCT e.document_version), ', ')
                   || ' (' || count(*) || ' entries)',
               count(*) OVER ()
          FROM journal_entries e
         WHERE e.status = 'active' AND {_SCOPE.format(alias="e")}
         GROUP BY e.org_id, e.document_id
        HAVING count(DISTINCT e.document_version) > 1 OR count(*) > count(DISTINCT e.seq)
        """,
    ),
    "active_set_not_at_posted_version": (
        "a document whose active entries are not of the version it says it posted",
        f"""
        SELECT d.org_id, d.id, NULL::bigint,
               'posted version ' || d.posted_version || ', active entries of version '
                   || min(e.document_version),
               count(*) OVER ()
          FROM documents d
          JOIN journal_entries e
            ON e.org_id = d.org_id AND e.document_id = d.id AND e.status = 'active'
         WHERE {_SCOPE.format(alias="d")}
         GROUP BY d.org_id, d.id, d.posted_version
        HAVING min(e.document_version) <> d.posted_version
            OR max(e.document_version) <> d.posted_version
        """,
    ),
    "pending_with_no_dispatcher": (
        "documents waiting while no dispatcher leads (start a normal worker)",
        f"""
        SELECT d.org_id, NULL, NULL::bigint,
               count(*) || ' documents pending, none in flight, and no dispatcher leads',
               count(*) OVER ()
          FROM documents d JOIN organizations o ON o.id = d.org_id
         WHERE {PENDING} AND NOT o.paused AND {_SCOPE.format(alias="d")}
           AND (d.lease_until IS NULL OR d.lease_until < now())
           AND NOT EXISTS (SELECT 1 FROM dispatcher_leases WHERE expires_at > now())
         GROUP BY d.org_id
        """,
    ),
    "lease_expired_unreclaimed": (
        "a document whose claim expired long ago and was never handed out again",
        f"""
        SELECT d.org_id, d.id, NULL::bigint,
               'lease expired ' || round(extract(epoch FROM now() - d.lease_until))
                   || ' s ago after ' || d.attempts || ' attempts',
               count(*) OVER ()
          FROM documents d
         WHERE {PENDING} AND d.lease_until < now() - make_interval(secs => :grace)
           AND {_SCOPE.format(alias="d")}
        """,
    ),
    "clearing_account_not_zero_at_close": (
        "a clearing account whose balance is not zero at the end of a closed period",
        f"""
        SELECT p.org_id, NULL, NULL::bigint,
               'account ' || a.code || ' holds ' || sum(l.functional_amount) || ' at the end of '
                   || to_char(p.period, 'YYYY-MM'),
               count(*) OVER ()
          FROM periods p
          JOIN accounts a ON a.org_id = p.org_id AND a.clearing
          JOIN journal_entries e
            ON e.org_id = p.org_id AND e.status <> 'retired'
           AND e.entry_date < p.period + interval '1 month'
          JOIN journal_lines l ON l.entry_id = e.id AND l.account_code = a.code
         WHERE p.status = 'closed' AND {_SCOPE.format(alias="p")}
         GROUP BY p.org_id, a.code, p.period
        HAVING sum(l.functional_amount) <> 0
        """,
    ),
}


class AuditRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def run_check(
        self, check: str, org_id: str | None, *, sample: int, grace_seconds: float
    ) -> CheckResult:
        rows = self.connection.execute(
            text(f"{CHECKS[check][1]} LIMIT :sample"),
            {"org_id": org_id, "sample": sample, "grace": grace_seconds},
        ).all()
        findings = [
            Finding(check, org, detail, document, entry) for org, document, entry, detail, _ in rows
        ]
        return CheckResult(check, rows[0][4] if rows else 0, findings)

    def record_run(self, org_id: str | None, results: Sequence[CheckResult]) -> int:
        by_check = {result.check: result.count for result in results}
        run_id: int = self.connection.execute(
            text(
                """
                INSERT INTO audit_runs (org_id, finished_at, findings, by_check)
                VALUES (:org_id, clock_timestamp(), :findings, CAST(:by_check AS jsonb))
                RETURNING id
                """
            ),
            {
                "org_id": org_id,
                "findings": sum(by_check.values()),
                "by_check": json.dumps(by_check),
            },
        ).scalar_one()
        findings = [f for result in results for f in result.sample]
        if findings:
            self.connection.execute(
                text(
                    """
                    INSERT INTO audit_findings
                           (run_id, check_name, org_id, document_id, entry_id, detail)
                    VALUES (:run_id, :check, :org_id, :document_id, :entry_id, :detail)
                    """
                ),
                [
                    {
                        "run_id": run_id,
                        "check": f.check,
                        "org_id": f.org_id,
                        "document_id": f.document_id,
                        "entry_id": f.entry_id,
                        "detail": f.detail,
                    }
                    for f in findings
                ],
            )
        return run_id

    def latest_run(self) -> AuditRunRow | None:
        row = self.connection.execute(
            text(
                """
                SELECT id, org_id, extract(epoch FROM finished_at), findings, by_check
                  FROM audit_runs WHERE org_id IS NULL ORDER BY id DESC LIMIT 1
                """
            )
        ).one_or_none()
        if row is None:
            return None
        return AuditRunRow(row[0], row[1], float(row[2]) if row[2] else None, row[3], row[4])

    def delete_runs_before(self, days: int) -> int:
        """Runs (and their findings) finished more than ``days`` ago; the latest one is kept."""
        result = self.connection.execute(
            text(
                """
                DELETE FROM audit_runs
                 WHERE started_at < now() - make_interval(days => :days)
                   AND id <> (SELECT max(id) FROM audit_runs)
                """
            ),
            {"days": days},
        )
        return int(result.rowcount)
