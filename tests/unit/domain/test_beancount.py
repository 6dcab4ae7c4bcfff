"""The Beancount formatter: account names, escaping, foreign and rounding lines, and text that
Beancount itself loads without errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from beancount import loader
from beancount.core import account as beancount_account
from beancount.core.data import Balance, Open, Transaction
from hypothesis import given
from hypothesis import strategies as st

from accounting.domain import beancount as bf
from accounting.domain.report_rows import Account, Holding, LedgerLine
from accounting.errors import InconsistentJournalLine

D = Decimal
DAY = date(2026, 3, 1)


def line(
    account: str,
    amount: str,
    functional: str | None = None,
    currency: str = "EUR",
    *,
    kind: str = "asset",
    entry_id: int = 1,
    document_id: str = "inv-1",
    line_id: int = 1,
) -> LedgerLine:
    return LedgerLine(
        entry_id=entry_id,
        entry_date=DAY,
        document_id=document_id,
        document_type="invoice",
        document_version=2,
        matrix_version=1,
        status="active",
        reverses_id=None,
        line_id=line_id,
        account_code=account,
        account_name=f"account {account}",
        account_kind=kind,
        currency=currency,
        amount=D(amount),
        functional_amount=D(amount if functional is None else functional),
        rate=D(1),
        rate_source="functional",
        rate_date=DAY,
    )


def load(text: str) -> list[object]:
    entries, errors, _ = loader.load_string(text)
    assert errors == [], [str(e.message) for e in errors]
    return list(entries)


@pytest.mark.parametrize(
    ("code", "component"),
    [
        ("1000", "1000"),
        ("Bank", "Bank"),
        ("1000-01", "1000-2D01"),
        ("rev.eu", "X-rev-2Eeu"),
        ("-1", "X--2D1"),
        ("Kasse Zürich", "Kasse-20Z-C3-BCrich"),
        ("", "X-"),
    ],
)
def test_an_account_code_becomes_a_recognisable_valid_component(code: str, component: str) -> None:
    assert bf.account_component(code) == component
    assert beancount_account.is_valid(f"Assets:{component}")


def test_account_roots_follow_the_account_kind() -> None:
    names = [bf.account_name(kind, "1") for kind in bf.ROOTS]
    assert names == ["Assets:1", "Liabilities:1", "Equity:1", "Income:1", "Expenses:1"]


@given(st.text(max_size=12), st.text(max_size=12))
def test_different_codes_never_share_a_component(first: str, second: str) -> None:
    if first != second:
        assert bf.account_component(first) != bf.account_component(second)
    assert beancount_account.is_valid(f"Equity:{bf.account_component(first)}")


@pytest.mark.parametrize("code", ["Opening-Balances", "Opening", "opening-balances"])
def test_no_code_collides_with_the_opening_balances_account(code: str) -> None:
    assert bf.account_name("equity", code) != bf.OPENING_BALANCES


def test_strings_with_quotes_backslashes_and_newlines_survive_a_round_trip() -> None:
    nasty = 'inv "7"\\x\nsecond line'
    text = bf.header("Shop", "EUR", "test") + bf.open_directives(
        [
            Account("1100", 'Receivables "B2B" \\', "asset", DAY),
            Account("4000", "R", "revenue", DAY),
        ]
    )
    text += bf.transaction(
        [line("1100", "10.00", document_id=nasty), line("4000", "-10.00", kind="revenue")], "EUR"
    )
    entries = load(text)
    (txn,) = [e for e in entries if isinstance(e, Transaction)]
    assert txn.meta["document_id"] == nasty
    opened = next(e for e in entries if isinstance(e, Open))
    assert opened.meta["name"] == 'Receivables "B2B" \\'


def test_a_foreign_currency_line_is_priced_at_its_functional_amount() -> None:
    debit = line("1100", "100.00", "91.23", "USD")
    credit = line("4000", "-100.00", "-91.23", "USD", kind="revenue")
    assert bf.posting(debit, "EUR").split()[1:] == ["100.00", "USD", "@@", "91.23", "EUR"]
    assert bf.posting(credit, "EUR").split()[1:] == ["-100.00", "USD", "@@", "91.23", "EUR"]


def test_a_rounding_line_is_its_functional_amount_in_the_functional_currency() -> None:
    rounding = line("6900", "0", "-0.01", "USD", kind="expense")
    assert bf.posting(rounding, "EUR").split() == ["Expenses:6900", "-0.01", "EUR"]


def test_a_foreign_entry_with_a_rounding_line_balances_in_beancount() -> None:
    lines = [
        line("1100", "100.00", "91.23", "USD", line_id=1),
        line("4000", "-100.00", "-91.22", "USD", kind="revenue", line_id=2),
        line("6900", "0", "-0.01", "USD", kind="expense", line_id=3),
    ]
    accounts = [
        Account("1100", "AR", "asset", DAY),
        Account("4000", "Revenue", "revenue", DAY),
        Account("6900", "Rounding", "expense", DAY),
    ]
    holdings = [
        Holding("1100", "USD", D("100.00")),
        Holding("4000", "USD", D("-100.00")),
        Holding("6900", "EUR", D("-0.01")),
    ]
    kinds = {a.code: a.kind for a in accounts}
    text = (
        bf.header("Shop", "EUR", "test")
        + bf.open_directives(accounts)
        + bf.transaction(lines, "EUR")
        + bf.balance_assertions(holdings, kinds, date(2026, 3, 2))
    )
    entries = load(text)
    assert sum(isinstance(e, Balance) for e in entries) == 3


def test_a_wrong_balance_assertion_fails_even_by_one_minor_unit() -> None:
    accounts = [Account("1100", "AR", "asset", DAY), Account("4000", "R", "revenue", DAY)]
    text = (
        bf.header("Shop", "EUR", "test")
        + bf.open_directives(accounts)
        + bf.transaction([line("1100", "10.00"), line("4000", "-10.00", kind="revenue")], "EUR")
        + bf.balance_assertions(
            [Holding("1100", "EUR", D("10.01"))], {"1100": "asset"}, date(2026, 3, 2)
        )
    )
    _, errors, _ = loader.load_string(text)
    assert len(errors) == 1 and "Balance failed" in errors[0].message


def test_reversal_metadata_names_the_reversed_entry() -> None:
    lines = [line("1100", "-5.00"), line("4000", "5.00", kind="revenue", line_id=2)]
    reversal = [replace(one, status="reversal", reverses_id=41) for one in lines]
    text = bf.transaction(reversal, "EUR")
    assert "  reverses_id: 41\n" in text
    assert '  status: "reversal"\n' in text


def test_a_functional_line_whose_amounts_differ_is_refused() -> None:
    with pytest.raises(InconsistentJournalLine, match="inv-1"):
        bf.posting(line("1100", "10.00", "10.01"), "EUR")


def test_a_foreign_line_with_a_functional_amount_of_the_opposite_sign_is_refused() -> None:
    with pytest.raises(InconsistentJournalLine, match="opposite sign"):
        bf.posting(line("1100", "10.00", "-9.00", "USD"), "EUR")


def test_opening_balances_are_balanced_per_currency_against_equity() -> None:
    accounts = [Account("1100", "AR", "asset", DAY), Account("4000", "R", "revenue", DAY)]
    holdings = [
        Holding("1100", "EUR", D("119.00")),
        Holding("1100", "USD", D("50.00")),
        Holding("4000", "EUR", D("-119.00")),
        Holding("4000", "USD", D("-50.00")),
        Holding("4010", "EUR", D("0.00")),
    ]
    kinds = {"1100": "asset", "4000": "revenue", "4010": "revenue"}
    text = bf.opening_transaction(holdings, kinds, DAY, "2026-03")
    assert "Income:4010" not in text  # nothing held, nothing opened
    assert bf.OPENING_BALANCES not in text  # every currency nets to zero
    unbalanced = bf.opening_transaction(holdings[:2], kinds, DAY, "2026-03")
    assert f"{bf.OPENING_BALANCES}" in unbalanced
    load(
        bf.header("Shop", "EUR", "test")
        + bf.opening_open_directive(DAY)
        + bf.open_directives(accounts)
        + unbalanced
        + bf.balance_assertions(holdings[:2], kinds, date(2026, 3, 2))
    )
