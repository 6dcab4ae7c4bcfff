"""Trial balance and general-ledger exports on real Postgres: what counts, periods, CSV and
Beancount that Beancount itself checks."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from beancount import loader
from beancount.core.data import Balance, Transaction
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from accounting.errors import InvalidPeriod, UnknownOrganization
from accounting.services import posting, reports
from accounting.services.documents import upsert_documents
from accounting.services.recreate import request_recreate
from accounting.store.uow import UnitOfWork
from tasks.cli import cli

from helpers import count, invoice

D = Decimal
LineSpec = tuple[str, str, str, str, str]  # account, currency, amount, functional, rate


def dated_invoice(doc_id: str, day: str, unit_price: str = "100.00") -> dict[str, Any]:
    return invoice(doc_id, unit_price) | {"date": day}


def post(uow: Any, org: str, *docs: dict[str, Any]) -> None:
    upsert_documents(uow(), org, list(docs), max_documents=100)
    versions = {str(d["id"]): 1 for d in docs}
    assert sorted(posting.post_documents(uow(), org, versions).posted) == sorted(versions)


def insert_entry(
    engine: Engine,
    org: str,
    doc_id: str,
    day: str,
    lines: list[LineSpec],
    *,
    version: int = 1,
    currency: str = "EUR",
    status: str = "active",
    reverses_id: int | None = None,
) -> int:
    """A hand-made entry with its lines, in one transaction (what posting does not produce
    yet: reversals, foreign currencies, rounding)."""
    with engine.begin() as connection:
        entry_id = int(
            connection.execute(
                text(
                    "INSERT INTO journal_entries (org_id, document_id, document_version,"
                    " document_type, matrix_version, entry_date, currency, status, reverses_id)"
                    " VALUES (:o, :d, :v, 'invoice', 1, :day, :c, :s, :r) RETURNING id"
                ),
                {"o": org, "d": doc_id, "v": version, "day": day, "c": currency, "s": status}
                | {"r": reverses_id},
            ).scalar_one()
        )
        for account, line_currency, amount, functional, rate in lines:
            connection.execute(
                text(
                    "INSERT INTO journal_lines (entry_id, org_id, account_code, currency, amount,"
                    " functional_amount, rate, rate_source, rate_date) VALUES"
                    " (:e, :o, :a, :c, :amount, :f, :rate, :src, :day)"
                ),
                {
                    "e": entry_id,
                    "o": org,
                    "a": account,
                    "c": line_currency,
                    "amount": D(amount),
                    "f": D(functional),
                    "rate": D(rate),
                    "src": "functional" if line_currency == "EUR" else "ecb",
                    "day": day,
                },
            )
    return entry_id


def books_with_reversal_and_foreign_currency(engine: Engine, uow: Any, org: str) -> int:
    """rv-1: v1 in January reversed in March (its period closed), v2 in March; fx-1: a USD
    invoice in March with a rounding line. Returns the reversed entry's id."""
    upsert_documents(uow(), org, [invoice("rv-1"), invoice("fx-1")], max_documents=10)
    reversed_id = insert_entry(
        engine,
        org,
        "rv-1",
        "2026-01-15",
        [("1100", "EUR", "50.00", "50.00", "1"), ("4000", "EUR", "-50.00", "-50.00", "1")],
        status="reversed",
    )
    insert_entry(
        engine,
        org,
        "rv-1",
        "2026-03-10",
        [("1100", "EUR", "-50.00", "-50.00", "1"), ("4000", "EUR", "50.00", "50.00", "1")],
        status="reversal",
        reverses_id=reversed_id,
    )
    insert_entry(
        engine,
        org,
        "rv-1",
        "2026-03-10",
        [("1100", "EUR", "60.00", "60.00", "1"), ("4000", "EUR", "-60.00", "-60.00", "1")],
        version=2,
    )
    insert_entry(
        engine,
        org,
        "fx-1",
        "2026-03-05",
        [
            ("1100", "USD", "100.00", "91.23", "0.9123"),
            ("4000", "USD", "-100.00", "-91.22", "0.9122"),
            ("6100", "USD", "0", "-0.01", "0.9123"),
        ],
        currency="USD",
    )
    return reversed_id


def by_code(balance: reports.TrialBalance) -> dict[str, tuple[Decimal, ...]]:
    return {r.code: (r.opening, r.debit, r.credit, r.closing) for r in balance.rows}


def beancount_text(uow: Any, org: str, period: str | None = None) -> str:
    out = io.StringIO()
    reports.export_beancount(uow(), org, period, out)
    return out.getvalue()


def loaded(text_: str) -> list[Any]:
    entries, errors, _ = loader.load_string(text_)
    assert errors == [], [e.message for e in errors]
    return list(entries)


# -- trial balance ----------------------------------------------------------------------------


def test_the_trial_balance_shows_what_was_posted_and_balances(uow: Any, org: str) -> None:
    post(uow, org, invoice("inv-1", "100.00"), invoice("inv-2", "50.00"))

    balance = reports.trial_balance(uow(), org, None)

    assert by_code(balance) == {
        "1100": (0, D("178.50"), 0, D("178.50")),
        "2200": (0, 0, D("28.50"), D("-28.50")),
        "4000": (0, 0, D("150.00"), D("-150.00")),
    }
    assert balance.total_debit == balance.total_credit == D("178.50")
    assert balance.balanced
    assert balance.as_dict()["totals"] == {
        "opening": "0.00",
        "debit": "178.50",
        "credit": "178.50",
        "closing": "0.00",
    }


def test_a_recreated_document_is_counted_once(engine: Engine, uow: Any, org: str) -> None:
    post(uow, org, invoice("inv-1", "100.00"))
    recreated = request_recreate(uow(), org, ["inv-1"], hold_seconds=None)
    assert posting.post_documents(uow(), org, recreated.versions).posted == ["inv-1"]
    assert count(engine, "SELECT count(*) FROM journal_entries WHERE status = 'retired'") == 1

    balance = reports.trial_balance(uow(), org, None)

    assert by_code(balance)["1100"] == (0, D("119.00"), 0, D("119.00"))
    assert balance.total_debit == D("119.00")


def test_a_period_has_the_balances_before_it_and_its_own_movements(uow: Any, org: str) -> None:
    post(
        uow,
        org,
        dated_invoice("feb-1", "2026-02-28", "100.00"),
        dated_invoice("mar-1", "2026-03-01", "10.00"),
        dated_invoice("apr-1", "2026-04-01", "1000.00"),
    )

    march = reports.trial_balance(uow(), org, "2026-03")

    assert march.period == "2026-03"
    assert by_code(march)["1100"] == (D("119.00"), D("11.90"), 0, D("130.90"))
    assert by_code(march)["4000"] == (D("-100.00"), 0, D("10.00"), D("-110.00"))
    assert march.total_opening == 0 and march.balanced
    assert by_code(reports.trial_balance(uow(), org, "2026-01")) == {}


def test_reversed_entries_and_their_reversals_count_each_in_its_period(
    engine: Engine, uow: Any, org: str
) -> None:
    books_with_reversal_and_foreign_currency(engine, uow, org)

    january = by_code(reports.trial_balance(uow(), org, "2026-01"))
    march = reports.trial_balance(uow(), org, "2026-03")

    assert january["1100"] == (0, D("50.00"), 0, D("50.00"))
    # March: the reversal (credit 50), version 2 (debit 60), and the USD invoice (debit 91.23)
    assert by_code(march)["1100"] == (D("50.00"), D("151.23"), D("50.00"), D("151.23"))
    assert by_code(march)["6100"] == (0, 0, D("0.01"), D("-0.01"))
    assert march.balanced


def test_unbalanced_books_are_reported_not_hidden(engine: Engine, uow: Any, org: str) -> None:
    upsert_documents(uow(), org, [invoice("bad-1")], max_documents=10)
    with engine.begin() as connection:
        # Only a broken database could hold this: the balance trigger is off for one insert.
        connection.execute(text("ALTER TABLE journal_lines DISABLE TRIGGER USER"))
        entry_id = connection.execute(
            text(
                "INSERT INTO journal_entries (org_id, document_id, document_version,"
                " document_type, matrix_version, entry_date, currency)"
                " VALUES (:o, 'bad-1', 1, 'invoice', 1, '2026-03-01', 'EUR') RETURNING id"
            ),
            {"o": org},
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO journal_lines (entry_id, org_id, account_code, currency, amount,"
                " functional_amount, rate, rate_source, rate_date) VALUES"
                " (:e, :o, '1100', 'EUR', 100, 100, 1, 'functional', '2026-03-01'),"
                " (:e, :o, '4000', 'EUR', -99, -99, 1, 'functional', '2026-03-01')"
            ),
            {"e": entry_id, "o": org},
        )
        connection.execute(text("ALTER TABLE journal_lines ENABLE TRIGGER USER"))

    balance = reports.trial_balance(uow(), org, None)

    assert (balance.total_debit, balance.total_credit) == (D("100.00"), D("99.00"))
    assert not balance.balanced
    assert balance.as_dict()["balanced"] is False
    shown = CliRunner().invoke(cli, ["trial-balance", org, "--json"])
    assert shown.exit_code == 1
    assert json.loads(shown.stdout)["totals"]["credit"] == "99.00"
    assert "does not balance" in shown.stderr


def test_a_malformed_period_or_an_unknown_organization_is_a_clear_error(uow: Any, org: str) -> None:
    with pytest.raises(InvalidPeriod, match="2026-3"):
        reports.trial_balance(uow(), org, "2026-3")
    with pytest.raises(UnknownOrganization, match="ghost"):
        reports.trial_balance(uow(), "ghost", None)
    with pytest.raises(UnknownOrganization, match="ghost"):
        reports.export_beancount(uow(), "ghost", None, io.StringIO())


# -- exports ----------------------------------------------------------------------------------


def test_the_csv_export_has_one_row_per_counted_line(engine: Engine, uow: Any, org: str) -> None:
    post(uow, org, invoice("inv-1", "100.00"))
    request_recreate(uow(), org, ["inv-1"], hold_seconds=None)
    posting.post_documents(uow(), org, {"inv-1": 2})
    reversed_id = books_with_reversal_and_foreign_currency(engine, uow, org)
    out = io.StringIO()

    written = reports.export_csv(uow(), org, None, out)

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    counted = count(
        engine,
        "SELECT count(*) FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id"
        " WHERE e.status <> 'retired'",
    )
    assert written == len(rows) == counted
    assert list(rows[0]) == list(reports.CSV_COLUMNS)
    assert {r["document_version"] for r in rows if r["document_id"] == "inv-1"} == {"2"}
    usd = next(r for r in rows if r["currency"] == "USD" and r["account_code"] == "1100")
    assert (usd["amount"], usd["functional_amount"], usd["functional_currency"]) == (
        "100.00",
        "91.23",
        "EUR",
    )
    assert (usd["rate"], usd["rate_source"], usd["rate_date"]) == ("0.9123", "ecb", "2026-03-05")
    reversal = next(r for r in rows if r["status"] == "reversal")
    assert reversal["reverses_id"] == str(reversed_id)
    assert [r["entry_date"] for r in rows] == sorted(r["entry_date"] for r in rows)


def test_the_csv_export_of_a_period_has_only_its_lines(uow: Any, org: str) -> None:
    post(uow, org, dated_invoice("feb-1", "2026-02-28"), dated_invoice("mar-1", "2026-03-31"))
    out = io.StringIO()
    reports.export_csv(uow(), org, "2026-03", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {r["document_id"] for r in rows} == {"mar-1"}


def test_the_beancount_export_of_posted_books_passes_beancount_checks(
    engine: Engine, uow: Any, org: str
) -> None:
    post(uow, org, invoice("inv-1", "100.00"), dated_invoice('inv "2" \\', "2026-04-02"))
    request_recreate(uow(), org, ["inv-1"], hold_seconds=None)
    posting.post_documents(uow(), org, {"inv-1": 2})
    books_with_reversal_and_foreign_currency(engine, uow, org)

    entries = loaded(beancount_text(uow, org))

    transactions = [e for e in entries if isinstance(e, Transaction)]
    active = "SELECT count(*) FROM journal_entries WHERE status <> 'retired'"
    assert len(transactions) == count(engine, active)
    assert {t.meta["document_id"] for t in transactions} >= {'inv "2" \\', "fx-1", "rv-1"}
    assertions = {
        (b.account, b.amount.currency): b.amount.number for b in entries if isinstance(b, Balance)
    }
    assert assertions[("Assets:1100", "USD")] == D("100.00")
    assert assertions[("Assets:1100", "EUR")] == D("119.00") + D("119.00") + D("60.00")
    assert assertions[("Expenses:6100", "EUR")] == D("-0.01")


def test_bean_check_catches_an_export_that_lost_an_entry(uow: Any, org: str) -> None:
    post(uow, org, invoice("inv-1"), invoice("inv-2"))
    blocks = beancount_text(uow, org).split("\n\n")
    without_one = "\n\n".join(b for b in blocks if 'document_id: "inv-2"' not in b)

    _, errors, _ = loader.load_string(without_one)

    assert errors and all("Balance failed" in e.message for e in errors)


def test_a_period_export_opens_with_the_balances_before_it(
    engine: Engine, uow: Any, org: str
) -> None:
    post(uow, org, dated_invoice("feb-1", "2026-02-28"), dated_invoice("apr-1", "2026-04-01"))
    books_with_reversal_and_foreign_currency(engine, uow, org)

    entries = loaded(beancount_text(uow, org, "2026-03"))

    opening, *movements = [e for e in entries if isinstance(e, Transaction)]
    assert opening.narration == "Opening balances before 2026-03"
    assert {t.meta["document_id"] for t in movements} == {"rv-1", "fx-1"}
    assert {str(b.date) for b in entries if isinstance(b, Balance)} == {"2026-04-01"}


def test_the_beancount_export_of_empty_books_loads(uow: Any, org: str) -> None:
    assert loaded(beancount_text(uow, org)) == []


# -- reading the books ------------------------------------------------------------------------


def test_ledger_lines_stream_through_a_server_side_cursor_in_order(
    engine: Engine, uow: Any, org: str
) -> None:
    post(uow, org, dated_invoice("b", "2026-03-02"), dated_invoice("a", "2026-03-01"))
    with UnitOfWork(engine) as work:
        lines = work.reports.ledger_lines(org, None, None)
        first = next(lines)
        cursors = work.connection.execute(
            text("SELECT count(*) FROM pg_cursors WHERE name <> ''")
        ).scalar_one()
        rest = list(lines)
    assert cursors == 1
    ordered = [(x.entry_date, x.entry_id, x.line_id) for x in [first, *rest]]
    assert ordered == sorted(ordered) and first.document_id == "a"


def test_an_export_reads_one_snapshot_while_postings_go_on(
    engine: Engine, uow: Any, org: str
) -> None:
    post(uow, org, invoice("inv-1"))
    upsert_documents(uow(), org, [invoice("inv-2")], max_documents=10)
    with UnitOfWork(engine) as work:
        work.reports.use_snapshot()
        holdings = work.reports.holdings(org, "EUR", None, None)
        posting.post_documents(uow(), org, {"inv-2": 1})  # commits meanwhile
        lines = list(work.reports.ledger_lines(org, None, None))
    assert {line.document_id for line in lines} == {"inv-1"}
    assert sum(h.amount for h in holdings if h.account_code == "1100") == D("119.00")
