"""The balance check runs per statement over the lines it inserted (migration 0013): the COPY of
the journal is checked too, each entry on its own, and every entry still balances at commit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
from psycopg.errors import CheckViolation
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from accounting.domain.ledger import EntryDraft, LineDraft
from accounting.services import documents as documents_service
from accounting.store.journal import NewEntry

from helpers import count, invoice

DAY = dt.date(2026, 3, 1)


def line(account: str, amount: str) -> LineDraft:
    return LineDraft(account, D(amount), "EUR", D(amount), D(1), "functional", DAY)


def entry(doc_id: str, *lines: LineDraft) -> NewEntry:
    return NewEntry(EntryDraft(doc_id, "invoice", DAY, "EUR", 1, lines), 1)


@pytest.fixture
def docs(uow: Any, org: str) -> list[str]:
    ids = ["inv-1", "inv-2"]
    documents_service.upsert_documents(uow(), org, [invoice(i) for i in ids], max_documents=10)
    return ids


def add(uow: Any, org: str, *entries: NewEntry) -> None:
    with uow() as unit:
        unit.journal.add_entries(org, list(entries))
        unit.commit()


def test_the_copy_of_an_unbalanced_entry_is_refused(
    engine: Engine, uow: Any, org: str, docs: list[str]
) -> None:
    with pytest.raises((IntegrityError, CheckViolation), match="does not balance"):
        add(uow, org, entry("inv-1", line("1100", "100"), line("4000", "-99")))
    assert count(engine, "SELECT count(*) FROM journal_entries") == 0


def test_entries_that_cancel_each_other_out_in_one_statement_are_each_refused(
    engine: Engine, uow: Any, org: str, docs: list[str]
) -> None:
    with pytest.raises((IntegrityError, CheckViolation), match="does not balance"):
        add(
            uow,
            org,
            entry("inv-1", line("1100", "100"), line("4000", "-99")),
            entry("inv-2", line("1100", "99"), line("4000", "-100")),
        )
    assert count(engine, "SELECT count(*) FROM journal_lines") == 0


def test_balanced_entries_copied_together_are_accepted(
    engine: Engine, uow: Any, org: str, docs: list[str]
) -> None:
    add(
        uow,
        org,
        entry("inv-1", line("1100", "100"), line("4000", "-100")),
        entry("inv-2", line("1100", "0.01"), line("4000", "-0.01")),
    )
    assert count(engine, "SELECT count(*) FROM journal_lines") == 4


def test_an_unbalanced_functional_amount_is_refused(
    engine: Engine, uow: Any, org: str, docs: list[str]
) -> None:
    skewed = LineDraft("4000", D("-100"), "EUR", D("-99"), D(1), "functional", DAY)
    with pytest.raises((IntegrityError, CheckViolation), match="functional currency"):
        add(uow, org, entry("inv-1", line("1100", "100"), skewed))


def test_an_entry_whose_lines_span_statements_is_checked_at_commit(
    engine: Engine, uow: Any, org: str, docs: list[str]
) -> None:
    """As the deferred check it replaced: unbalanced in between is fine, at commit it is not."""
    insert = text(
        "INSERT INTO journal_lines (entry_id, org_id, account_code, currency, amount,"
        " functional_amount, rate, rate_source, rate_date) VALUES"
        " (:e, :o, '1100', 'EUR', :a, :a, 1, 'functional', '2026-03-01'),"
        " (:e, :o, '4000', 'EUR', :b, :b, 1, 'functional', '2026-03-01')"
    )
    new_entry = text(
        "INSERT INTO journal_entries (org_id, document_id, document_version,"
        " document_type, matrix_version, entry_date, currency)"
        " VALUES (:o, 'inv-1', 1, 'invoice', 1, '2026-03-01', 'EUR') RETURNING id"
    )
    with engine.begin() as connection:
        entry_id = connection.execute(new_entry, {"o": org}).scalar_one()
        for a, b in (("100", "-90"), ("5", "-15")):
            connection.execute(insert, {"e": entry_id, "o": org, "a": a, "b": b})
    assert count(engine, "SELECT count(*) FROM journal_lines") == 4
    assert count(engine, "SELECT count(*) FROM journal_balance_pending") == 0
    with pytest.raises(IntegrityError, match="does not balance"), engine.begin() as connection:
        other = text(new_entry.text.replace("'inv-1'", "'inv-2'"))
        entry_id = connection.execute(other, {"o": org}).scalar_one()
        connection.execute(insert, {"e": entry_id, "o": org, "a": "100", "b": "-99"})
        connection.execute(insert, {"e": entry_id, "o": org, "a": "1", "b": "-1"})
    assert count(engine, "SELECT count(*) FROM journal_lines") == 4
