"""The chaos verdict counts a document as posted only at the content last acknowledged."""

from __future__ import annotations

from typing import Any

from accounting.store.documents import DocumentState
from accounting_impact_client import documents
from tasks.tools.chaos.run import Verdict, _why_not_posted

INVOICE: dict[str, Any] = {
    "id": "inv-1",
    "type": "invoice",
    "date": "2026-03-01",
    "currency": "EUR",
    "lines": [{"group": "products", "quantity": "1", "unit_price": "10.00", "tax_rate": "0.19"}],
}


def state(**changes: Any) -> DocumentState:
    validated, _ = documents.validate_documents([INVOICE])
    values: dict[str, Any] = {
        "id": "inv-1",
        "content_hash": documents.content_hash(validated[0]),
        "ready_version": 2,
        "posted_version": 2,
        "failed_version": 0,
        "active_versions": (2,),
        "repeated_entries": 0,
    }
    return DocumentState(**(values | changes))


def test_a_document_posted_at_its_acknowledged_content_counts_as_posted() -> None:
    assert _why_not_posted(state(), INVOICE) is None


def test_an_older_content_a_pending_version_a_dead_one_or_stale_entries_count_as_lost() -> None:
    assert _why_not_posted(state(content_hash="other"), INVOICE) == "older content stored"
    assert _why_not_posted(state(posted_version=1), INVOICE) == "not posted at its latest version"
    assert _why_not_posted(state(failed_version=2, posted_version=1), INVOICE) == "dead"
    assert (
        _why_not_posted(state(active_versions=(1,)), INVOICE)
        == "active entries not at its latest version"
    )


def test_any_loss_duplicate_or_imbalance_fails_the_run() -> None:
    def verdict(lost: int = 0, duplicated: int = 0, unbalanced: int = 0) -> Verdict:
        return Verdict(
            10, 10 - lost, {"dead": lost} if lost else {}, duplicated, unbalanced, {}, 1.0
        )

    assert verdict().passed
    assert not verdict(lost=1).passed
    assert not verdict(duplicated=1).passed
    assert not verdict(unbalanced=1).passed
    assert verdict(lost=1).as_dict()["lost"] == 1


def test_an_audit_finding_after_the_run_fails_it() -> None:
    verdict = Verdict(10, 10, {}, 0, 0, {}, 1.0)
    verdict.audit_findings = {"lease_expired_unreclaimed": 0}
    assert verdict.passed
    verdict.audit_findings = {"lease_expired_unreclaimed": 3}
    assert not verdict.passed
