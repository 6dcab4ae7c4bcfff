"""Report periods and the decimal text of amounts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounting.domain.report_rows import Month, decimal_text
from accounting.errors import InvalidPeriod


def test_a_period_is_a_calendar_month() -> None:
    march = Month.parse("2026-03")
    assert (march.start, march.end, march.label) == (date(2026, 3, 1), date(2026, 4, 1), "2026-03")
    assert Month.parse("2026-12").end == date(2027, 1, 1)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-3", "26-03", "2026-03-01", "", "x"])
def test_a_malformed_period_is_a_clear_error(text: str) -> None:
    with pytest.raises(InvalidPeriod, match="expected YYYY-MM"):
        Month.parse(text)


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("119.00000000", "EUR", "119.00"),
        ("-0.00000000", "EUR", "0.00"),
        ("0.12345678", "EUR", "0.12345678"),
        ("5.00000000", "JPY", "5"),
        ("-12.5", "KWD", "-12.500"),
        ("1E+3", "EUR", "1000.00"),
        ("1.085000000000", None, "1.085"),
    ],
)
def test_amounts_are_exact_decimal_text_with_the_currency_places(
    amount: str, currency: str | None, text: str
) -> None:
    assert decimal_text(Decimal(amount), currency) == text
