"""Posting into an organization's books: rounding to a designated account, periods, deferred
revenue schedules and reversals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounting.domain.facts import PostingFacts, posting_facts
from accounting.domain.ledger import (
    EntryDraft,
    ExchangeRate,
    PostedEntry,
    PostingContext,
    entry_set,
    reversal_of,
)
from accounting.domain.matrix import PostingMatrix, Rule
from accounting.domain.periods import add_months, posting_date
from accounting.errors import MissingExchangeRate, RoundingDifferenceTooLarge
from accounting_impact_client.documents import Document, validate_documents

MATRIX = PostingMatrix(
    "org-1",
    4,
    {
        ("invoice", "net", "*"): Rule("1100", "4000"),
        ("invoice", "net", "services"): Rule("1100", "4010"),
        ("invoice", "tax", "*"): Rule("1100", "2200"),
        ("subscription_invoice", "net", "*"): Rule("1100", "2400"),
        ("subscription_invoice", "tax", "*"): Rule("1100", "2200"),
        ("subscription_invoice", "recognition", "*"): Rule("2400", "4020"),
        ("subscription_invoice", "recognition", "services"): Rule("2400", "4010"),
    },
)


def parse(raw: dict[str, Any]) -> Document:
    documents, errors = validate_documents([raw])
    assert errors == []
    return documents[0]


def facts(**raw: Any) -> PostingFacts:
    base = {"id": "inv-1", "type": "invoice", "date": "2026-03-10", "currency": "EUR"}
    return posting_facts(parse(base | raw))


def net_lines(*nets: tuple[str, str]) -> list[dict[str, str]]:
    return [{"quantity": "1", "unit_price": net, "group": group} for group, net in nets]


def books(**extra: Any) -> PostingContext:
    defaults: dict[str, Any] = {"rounding_account": "6990", "rounding_tolerance": Decimal("0.05")}
    return PostingContext("EUR", **(defaults | extra))


def totals(entry: EntryDraft) -> dict[str, tuple[Decimal, Decimal]]:
    return {line.account: (line.amount, line.functional_amount) for line in entry.lines}


# -- rounding ---------------------------------------------------------------------------------

# Half a cent per revenue line rounds up twice, the receivable once: one cent over.
ROUNDING_INVOICE = {
    "currency": "USD",
    "exchange_rate": "0.5",
    "lines": net_lines(("default", "0.01"), ("services", "0.01")),
}


def test_a_rounding_difference_within_tolerance_goes_to_the_rounding_account() -> None:
    [entry] = entry_set(facts(**ROUNDING_INVOICE), MATRIX, books())
    assert totals(entry) == {
        "1100": (Decimal("0.02"), Decimal("0.01")),
        "4000": (Decimal("-0.01"), Decimal("-0.01")),
        "4010": (Decimal("-0.01"), Decimal("-0.01")),
        "6990": (Decimal(0), Decimal("0.01")),
    }
    assert entry.is_balanced


def test_a_rounding_difference_above_tolerance_fails_the_document_with_its_reason() -> None:
    with pytest.raises(RoundingDifferenceTooLarge) as raised:
        entry_set(facts(**ROUNDING_INVOICE), MATRIX, books(rounding_tolerance=Decimal(0)))
    message = str(raised.value)
    assert all(part in message for part in ("'inv-1'", "0.01 EUR", "tolerance of 0 EUR", "0.5"))


def test_without_a_rounding_account_a_rounding_difference_fails_the_document() -> None:
    with pytest.raises(RoundingDifferenceTooLarge, match="no rounding account"):
        entry_set(facts(**ROUNDING_INVOICE), MATRIX, books(rounding_account=None))


def test_lines_record_the_rate_with_its_source_and_date() -> None:
    rate = ExchangeRate(Decimal("0.9"), "ECB", dt.date(2026, 3, 9))
    [entry] = entry_set(
        facts(currency="USD", lines=net_lines(("default", "10.00"))),
        MATRIX,
        books(rates={("USD", dt.date(2026, 3, 10)): rate}),
    )
    assert {(line.rate, line.rate_source, line.rate_date) for line in entry.lines} == {
        (Decimal("0.9"), "ECB", dt.date(2026, 3, 9))
    }
    assert totals(entry)["1100"] == (Decimal("10.00"), Decimal("9.00"))


def test_the_document_rate_wins_over_the_organization_rate() -> None:
    rate = ExchangeRate(Decimal("0.9"), "ECB", dt.date(2026, 3, 9))
    document = facts(currency="USD", exchange_rate="0.8", lines=net_lines(("default", "10.00")))
    [entry] = entry_set(document, MATRIX, books(rates={("USD", dt.date(2026, 3, 10)): rate}))
    assert {(line.rate, line.rate_source) for line in entry.lines} == {(Decimal("0.8"), "document")}


def test_a_missing_rate_names_the_currency_and_the_date() -> None:
    with pytest.raises(MissingExchangeRate, match="no USD rate on or before 2026-03-10"):
        entry_set(facts(currency="USD", lines=net_lines(("default", "1"))), MATRIX, books())


# -- periods ----------------------------------------------------------------------------------

MARCH, APRIL, MAY = dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)


def test_an_open_period_keeps_the_date_and_a_closed_one_moves_to_the_next_open_month() -> None:
    day = dt.date(2026, 3, 10)
    assert posting_date(day, frozenset()) == day
    assert posting_date(day, frozenset({MARCH})) == APRIL
    assert posting_date(day, frozenset({MARCH, APRIL})) == MAY


def test_a_document_dated_in_a_closed_period_posts_in_the_first_open_one() -> None:
    [entry] = entry_set(
        facts(lines=net_lines(("default", "1"))), MATRIX, books(closed_periods={MARCH})
    )
    assert entry.entry_date == APRIL


def test_add_months_clamps_to_the_end_of_a_shorter_month() -> None:
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 11, 30), 3) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)


def test_a_reversal_cancels_every_line_in_the_first_open_period() -> None:
    [entry] = entry_set(facts(lines=net_lines(("default", "10.00"))), MATRIX, books())
    reversal = reversal_of(PostedEntry(41, entry), frozenset({MARCH}))
    assert reversal.reverses_id == 41
    assert reversal.entry_date == APRIL
    for original, cancel in zip(entry.lines, reversal.lines, strict=True):
        assert cancel.amount == -original.amount
        assert cancel.functional_amount == -original.functional_amount
        assert (cancel.account, cancel.rate, cancel.rate_source) == (
            original.account,
            original.rate,
            original.rate_source,
        )


# -- deferred revenue -------------------------------------------------------------------------


def subscription(net: str = "1000.00", months: int = 12, **raw: Any) -> PostingFacts:
    return facts(
        id="sub-1",
        type="subscription_invoice",
        service_start="2026-01-31",
        term_months=months,
        lines=[{"quantity": "1", "unit_price": net, "tax_rate": "0.19"}],
        **raw,
    )


def account_total(entries: tuple[EntryDraft, ...], account: str) -> tuple[Decimal, Decimal]:
    lines = [line for entry in entries for line in entry.lines if line.account == account]
    amount = sum((line.amount for line in lines), Decimal(0))
    return amount, sum((line.functional_amount for line in lines), Decimal(0))


def test_a_yearly_subscription_defers_its_revenue_and_recognises_it_monthly() -> None:
    entries = entry_set(subscription(), MATRIX, books())
    invoice, *months = entries
    assert totals(invoice) == {
        "1100": (Decimal("1190.00"), Decimal("1190.00")),
        "2200": (Decimal("-190.00"), Decimal("-190.00")),
        "2400": (Decimal("-1000.00"), Decimal("-1000.00")),
    }
    assert len(months) == 12
    assert [entry.seq for entry in entries] == list(range(13))
    # One entry per month, each in its own period, the day clamped to short months.
    assert [entry.entry_date for entry in months][:3] == [
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 31),
    ]
    assert len({(entry.entry_date.year, entry.entry_date.month) for entry in months}) == 12
    recognised = [totals(entry)["4020"][0] for entry in months]
    assert recognised == [Decimal("-83.34")] * 4 + [Decimal("-83.33")] * 8
    assert account_total(entries, "2400") == (Decimal(0), Decimal(0))
    assert account_total(entries, "4020") == (Decimal("-1000.00"), Decimal("-1000.00"))


def test_foreign_deferred_revenue_clears_exactly_in_both_currencies() -> None:
    entries = entry_set(
        subscription("1000.00", 7, currency="USD", exchange_rate="0.917"), MATRIX, books()
    )
    assert account_total(entries, "2400") == (Decimal(0), Decimal(0))
    assert all(entry.is_balanced for entry in entries)


def test_recognition_in_a_closed_month_moves_to_the_next_open_one() -> None:
    closed = frozenset({dt.date(2026, 1, 1), dt.date(2026, 2, 1)})
    entries = entry_set(subscription(months=3), MATRIX, books(closed_periods=closed))
    assert [entry.entry_date for entry in entries] == [
        dt.date(2026, 3, 10),  # the invoice itself, in open March
        dt.date(2026, 3, 1),  # January's recognition
        dt.date(2026, 3, 1),  # February's
        dt.date(2026, 3, 31),
    ]


# -- properties -------------------------------------------------------------------------------

cents = st.decimals(min_value="0.01", max_value=10**7, places=2)
# From 0.005: a cent at a lower rate is worth nothing in the functional currency, and refused.
fx = st.decimals(min_value="0.005", max_value=1000, places=4)


@given(
    nets=st.lists(
        st.tuples(st.sampled_from(["default", "services", "x"]), cents), min_size=1, max_size=6
    ),
    rate=fx,
)
def test_per_account_conversion_leaves_at_most_half_a_cent_per_line(
    nets: list[tuple[str, Decimal]], rate: Decimal
) -> None:
    document = facts(
        currency="USD", exchange_rate=str(rate), lines=net_lines(*((g, str(n)) for g, n in nets))
    )
    [entry] = entry_set(document, MATRIX, books(rounding_tolerance=Decimal(10**6)))
    assert entry.is_balanced
    rounding = totals(entry).get("6990", (Decimal(0), Decimal(0)))[1]
    converted = len([line for line in entry.lines if line.account != "6990"])
    assert abs(rounding) <= Decimal("0.005") * converted


@given(net=cents, months=st.integers(1, 36), rate=st.none() | fx)
def test_subscriptions_balance_and_are_deterministic(
    net: Decimal, months: int, rate: Decimal | None
) -> None:
    extra = {} if rate is None else {"currency": "USD", "exchange_rate": str(rate)}
    document = subscription(str(net), months, **extra)
    entries = entry_set(document, MATRIX, books(rounding_tolerance=Decimal(10**6)))
    assert all(entry.is_balanced for entry in entries)
    assert account_total(entries, "2400") == (Decimal(0), Decimal(0))
    assert entries == entry_set(
        PostingFacts.from_json(document.to_json()), MATRIX, books(rounding_tolerance=Decimal(10**6))
    )
