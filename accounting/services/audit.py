"""Use cases of the audit: check the books' invariants, record what was found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accounting.config import Settings, get_settings
from accounting.store.audits import CHECKS, AuditRunRow, CheckResult
from accounting.store.uow import UnitOfWork


def check_meanings() -> dict[str, str]:
    """Each check the audit runs, and what one of its findings means."""
    return {check: meaning for check, (meaning, _) in CHECKS.items()}


@dataclass(frozen=True)
class AuditReport:
    run_id: int
    org_id: str | None
    results: list[CheckResult]

    @property
    def findings(self) -> int:
        return sum(result.count for result in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "org_id": self.org_id,
            "findings": self.findings,
            "checks": {
                result.check: {
                    "count": result.count,
                    "meaning": CHECKS[result.check][0],
                    "sample": [
                        {
                            "org_id": f.org_id,
                            "document_id": f.document_id,
                            "entry_id": f.entry_id,
                            "detail": f.detail,
                        }
                        for f in result.sample
                    ],
                }
                for result in self.results
            },
        }


def run_audit(
    uow: UnitOfWork, org_id: str | None = None, settings: Settings | None = None
) -> AuditReport:
    """Run every check over one organization (or all) in one snapshot, and record the run:

    - every entry balances per currency and in the functional currency;
    - a document has one active entry set, of the version it posted;
    - every pending document is in flight or can be handed out: a dispatcher leads, and no
      claim expired long ago (twice the lease) without being handed out again;
    - every clearing account is back to zero at the end of each closed period (a payment
      provider's settlement lag means an open month may legitimately end non-zero)."""
    settings = settings or get_settings()
    with uow:
        uow.use_snapshot()
        results = [
            uow.audits.run_check(
                check,
                org_id,
                sample=settings.audit_sample,
                grace_seconds=2.0 * settings.lease_seconds,
            )
            for check in CHECKS
        ]
        run_id = uow.audits.record_run(org_id, results)
        uow.commit()
    return AuditReport(run_id, org_id, results)


def latest_run(uow: UnitOfWork) -> AuditRunRow | None:
    """The latest audit of all organizations (the nightly one), if any."""
    with uow:
        return uow.audits.latest_run()
