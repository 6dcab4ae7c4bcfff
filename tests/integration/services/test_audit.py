"""The audit on real Postgres: clean books give no finding, and each planted violation is
found by its check, in its organization only, and recorded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection, Engine, text

from accounting.config import get_settings
from accounting.services import audit, books, maintenance, matrices, posting
from accounting.services import documents as documents_service
from accounting.services import queue as queue_service
from web.metrics import AuditCollector

from helpers import count, invoice


def upsert(uow: Any, org: str, *docs: dict[str, Any]) -> None:
    documents_service.upsert_documents(uow(), org, list(docs), max_documents=100)


def post(uow: Any, org: str, **doc_versions: int) -> None:
    posting.post_documents(uow(), org, doc_versions)


def found(report: audit.AuditReport) -> dict[str, int]:
    return {result.check: result.count for result in report.results if result.count}


@contextmanager
def without_triggers(engine: Engine) -> Iterator[Connection]:
    """A transaction that bypasses the triggers guarding the journal: how the tests plant what
    the database itself would refuse (the audit is the second line). Only the tables' owner
    can do this; the application's role cannot (tests/integration/store/test_privileges.py)."""
    guarded = ("journal_entries", "journal_lines")
    with engine.begin() as connection:
        for table in guarded:
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        yield connection
        for table in guarded:
            connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


def plant_entry(
    connection: Connection, org: str, doc_id: str, version: int, lines: list[str], seq: int = 5
) -> None:
    entry_id = connection.execute(
        text(
            "INSERT INTO journal_entries (org_id, document_id, document_version, seq,"
            " document_type, matrix_version, entry_date, currency, status)"
            " VALUES (:o, :d, :v, :s, 'invoice', 1, '2026-03-01', 'EUR', 'active') RETURNING id"
        ),
        {"o": org, "d": doc_id, "v": version, "s": seq},
    ).scalar_one()
    for n, amount in enumerate(lines):
        connection.execute(
            text(
                "INSERT INTO journal_lines (entry_id, org_id, account_code, currency, amount,"
                " functional_amount, rate, rate_source, rate_date)"
                " VALUES (:e, :o, :a, 'EUR', :m, :m, 1, 'functional', '2026-03-01')"
            ),
            {"e": entry_id, "o": org, "a": "1100" if n == 0 else "4000", "m": amount},
        )


@pytest.fixture
def posted_org(engine: Engine, uow: Any, make_org: Any) -> str:
    org = make_org("acme")
    upsert(uow, org, invoice("inv-1"), invoice("inv-2"))
    post(uow, org, **{"inv-1": 1, "inv-2": 1})
    return str(org)


def test_clean_books_have_no_finding_and_the_run_is_recorded(
    engine: Engine, uow: Any, posted_org: str
) -> None:
    report = audit.run_audit(uow())
    assert report.findings == 0 and found(report) == {}
    assert count(engine, "SELECT count(*) FROM audit_runs WHERE findings = 0") == 1


def test_an_unbalanced_entry_is_found_per_currency_and_in_functional_currency(
    engine: Engine, uow: Any, posted_org: str
) -> None:
    with without_triggers(engine) as connection:
        plant_entry(connection, posted_org, "inv-1", 1, ["10.00", "-9.99"])
    report = audit.run_audit(uow())
    assert found(report)["entry_unbalanced_in_currency"] == 1
    assert found(report)["entry_unbalanced_in_functional_currency"] == 1
    sample = next(r for r in report.results if r.check == "entry_unbalanced_in_currency").sample
    assert (sample[0].org_id, sample[0].document_id) == (posted_org, "inv-1")
    assert "0.01" in sample[0].detail
    assert count(engine, "SELECT count(*) FROM audit_findings") >= 2


def test_a_second_active_set_and_one_not_at_the_posted_version_are_found(
    engine: Engine, uow: Any, posted_org: str
) -> None:
    with without_triggers(engine) as connection:
        plant_entry(connection, posted_org, "inv-1", 2, ["5.00", "-5.00"])
        connection.execute(
            text("UPDATE documents SET ready_version = 3, posted_version = 3 WHERE id = 'inv-2'")
        )
    checks = found(audit.run_audit(uow()))
    assert checks["document_with_two_active_sets"] == 1
    assert checks["active_set_not_at_posted_version"] == 2  # inv-1 (1 and 2), inv-2 (1 vs 3)


def test_pending_documents_with_no_dispatcher_leading_are_found(
    engine: Engine, uow: Any, posted_org: str
) -> None:
    upsert(uow, posted_org, invoice("inv-3"))
    assert found(audit.run_audit(uow()))["pending_with_no_dispatcher"] == 1
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO dispatcher_leases (name, holder, expires_at)"
                " VALUES ('dispatcher', 'normal@test', now() + interval '1 minute')"
            )
        )
    assert "pending_with_no_dispatcher" not in found(audit.run_audit(uow()))
    queue_service.set_paused(uow(), posted_org, True)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM dispatcher_leases"))
    assert "pending_with_no_dispatcher" not in found(audit.run_audit(uow()))  # paused: waits


def test_a_claim_that_expired_long_ago_is_found_until_the_reclaim_job_releases_it(
    engine: Engine, uow: Any, posted_org: str
) -> None:
    upsert(uow, posted_org, invoice("inv-3"))
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE documents SET lease_until = now() - interval '1 hour', attempts = 1"
                " WHERE id = 'inv-3'"
            )
        )
    assert found(audit.run_audit(uow()))["lease_expired_unreclaimed"] == 1
    reclaimed = maintenance.reclaim_leases(uow(), get_settings())
    assert (reclaimed.buried, reclaimed.released) == (0, 1)
    assert "lease_expired_unreclaimed" not in found(audit.run_audit(uow()))


def test_the_reclaim_job_buries_a_version_that_used_up_its_attempts(
    engine: Engine, uow: Any, posted_org: str
) -> None:
    upsert(uow, posted_org, invoice("inv-3"))
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE documents SET lease_until = now() - interval '1 second', attempts = :a"
                " WHERE id = 'inv-3'"
            ),
            {"a": get_settings().max_attempts},
        )
    assert maintenance.reclaim_leases(uow(), get_settings()).buried == 1
    assert queue_service.status(uow(), posted_org)["dead"] == 1


def test_a_clearing_account_not_back_to_zero_at_a_closed_month_end_is_found(
    engine: Engine, uow: Any, posted_org: str
) -> None:
    matrices.set_account_clearing(uow(), posted_org, "1200", True)
    day = {"date": "2026-01-10", "currency": "EUR"}
    upsert(uow, posted_org, {"id": "pay-1", "type": "payment", "amount": "100.00"} | day)
    post(uow, posted_org, **{"pay-1": 1})
    assert "clearing_account_not_zero_at_close" not in found(audit.run_audit(uow()))  # open
    books.close_period(uow(), posted_org, "2026-01")
    report = audit.run_audit(uow())
    assert found(report)["clearing_account_not_zero_at_close"] == 1
    sample = next(r for r in report.results if r.check == "clearing_account_not_zero_at_close")
    assert "1200" in sample.sample[0].detail and "2026-01" in sample.sample[0].detail
    books.reopen_period(uow(), posted_org, "2026-01")
    payout = {"id": "po-1", "type": "payout", "gross": "100.00", "fees": "1.40", "net": "98.60"}
    upsert(uow, posted_org, payout | {"date": "2026-01-28", "currency": "EUR"})
    post(uow, posted_org, **{"po-1": 1})
    books.close_period(uow(), posted_org, "2026-01")
    assert "clearing_account_not_zero_at_close" not in found(audit.run_audit(uow()))


def test_an_audit_of_one_organization_reports_nothing_of_another(
    engine: Engine, uow: Any, posted_org: str, make_org: Any
) -> None:
    other = make_org("globex")
    with without_triggers(engine) as connection:
        plant_entry(connection, posted_org, "inv-1", 1, ["10.00", "-9.99"])
    assert audit.run_audit(uow(), other).findings == 0
    assert audit.run_audit(uow(), posted_org).findings > 0


def test_the_alert_metrics_read_the_latest_audit_of_all_organizations(
    engine: Engine, uow: Any, posted_org: str
) -> None:
    registry = CollectorRegistry()
    registry.register(AuditCollector(uow))

    def metrics() -> dict[tuple[str, str], float]:
        families = text_string_to_metric_families(generate_latest(registry).decode())
        return {
            (sample.name, sample.labels.get("check", "")): sample.value
            for family in families
            for sample in family.samples
        }

    assert metrics()[("accounting_audit_last_run_timestamp_seconds", "")] == 0
    audit.run_audit(uow())
    before = metrics()
    assert before[("accounting_audit_findings", "entry_unbalanced_in_currency")] == 0
    assert before[("accounting_audit_last_run_timestamp_seconds", "")] > 0
    with without_triggers(engine) as connection:
        plant_entry(connection, posted_org, "inv-1", 1, ["10.00", "-9.99"])
    audit.run_audit(uow(), posted_org)  # one organization's run is not the nightly one
    assert metrics()[("accounting_audit_findings", "entry_unbalanced_in_currency")] == 0
    audit.run_audit(uow())
    assert metrics()[("accounting_audit_findings", "entry_unbalanced_in_currency")] == 1
