"""What the reports read from the books: months, journal lines, accounts and holdings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from accounting.domain.money import CURRENCY_EXPONENTS, MONEY_CONTEXT
from accounting.domain.periods import next_month, parse_period, period_name


@dataclass(frozen=True)
class Month:
    """A calendar month of the books: entries dated on or after ``start`` and before ``end``."""

    start: date

    @classmethod
    def parse(cls, text: str) -> Month:
        return cls(parse_period(text))

    @property
    def end(self) -> date:
        return next_month(self.start)

    @property
    def label(self) -> str:
        return period_name(self.start)


@dataclass(frozen=True)
class OrgBooks:
    """Whose books these are and the currency they are kept in."""

    org_id: str
    name: str
    functional_currency: str


@dataclass(frozen=True)
class Account:
    code: str
    name: str
    kind: str
    #: The first date it has a counted line on (in the exported range or before it).
    first_used: date


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One journal line with its entry and account, as exports stream them."""

    entry_id: int
    entry_date: date
    document_id: str
    document_type: str
    document_version: int
    matrix_version: int
    status: str
    reverses_id: int | None
    line_id: int
    account_code: str
    account_name: str
    account_kind: str
    currency: str
    amount: Decimal
    functional_amount: Decimal
    rate: Decimal
    rate_source: str
    rate_date: date


@dataclass(frozen=True)
class AccountTotals:
    """An account's lines in the functional currency: before the period, and within it."""

    code: str
    name: str
    kind: str
    opening: Decimal
    debit: Decimal
    credit: Decimal

    @property
    def closing(self) -> Decimal:
        with localcontext(MONEY_CONTEXT):
            return self.opening + self.debit - self.credit


@dataclass(frozen=True)
class Holding:
    """What an account holds of one currency, in Beancount's terms: the units of a foreign
    currency (its ``amount``), or for the functional currency the functional amounts of its
    functional-currency and rounding lines."""

    account_code: str
    currency: str
    amount: Decimal


def decimal_text(amount: Decimal, currency: str | None = None) -> str:
    """Exact, without exponent, with at least the currency's decimals (``119.00000000`` from
    a NUMERIC(28, 8) column becomes ``119.00``; digits that are not zero are never dropped)."""
    places = CURRENCY_EXPONENTS.get(currency, 0) if currency else 0
    normal = amount.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -places:
        normal = normal.quantize(Decimal(1).scaleb(-places))
    if normal.is_zero():
        normal = abs(normal)  # never "-0.00"
    return format(normal, "f")
