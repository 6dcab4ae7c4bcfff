"""Use cases of an organization's books: closing and reopening periods, exchange rates, the
rounding account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from accounting.domain import money
from accounting.domain.periods import parse_period, period_name
from accounting.errors import InvalidExchangeRate, InvalidSetting
from accounting.services.organizations import default_rounding_tolerance
from accounting.store.uow import UnitOfWork
from accounting_impact_client.values import rate_digits_problem


@dataclass(frozen=True)
class PeriodChange:
    period: str
    status: str
    previous: str

    @property
    def changed(self) -> bool:
        return self.status != self.previous


def close_period(uow: UnitOfWork, org_id: str, period: str) -> PeriodChange:
    """Close a month: from now on nothing is posted into it or retired from it; recreating a
    document whose entries lie in it reverses them in the first open period. Waits for
    postings in flight that touch the month."""
    return _set_period(uow, org_id, period, "closed")


def reopen_period(uow: UnitOfWork, org_id: str, period: str) -> PeriodChange:
    return _set_period(uow, org_id, period, "open")


def _set_period(uow: UnitOfWork, org_id: str, period: str, status: str) -> PeriodChange:
    month = parse_period(period)
    with uow:
        uow.organizations.get_or_raise(org_id)
        previous = uow.books.set_period_status(org_id, month, status)
        uow.commit()
    return PeriodChange(period_name(month), status, previous)


def list_periods(uow: UnitOfWork, org_id: str) -> list[tuple[str, str]]:
    """``(YYYY-MM, status)`` of every month with entries or a status, oldest first."""
    with uow:
        uow.organizations.get_or_raise(org_id)
        return [(period_name(month), status) for month, status in uow.books.periods(org_id)]


@dataclass(frozen=True)
class RateInput:
    """One rate as an operator supplies it: units of functional currency per unit of
    ``currency`` from ``date`` on."""

    currency: str
    date: dt.date
    rate: Decimal
    source: str


MAX_SOURCE_LENGTH = 200


def set_exchange_rates(uow: UnitOfWork, org_id: str, rates: Sequence[RateInput]) -> int:
    """Store rates (a rate for a currency and date already there is corrected). All are
    checked first: one bad rate stores none."""
    with uow:
        organization = uow.organizations.get_or_raise(org_id)
        seen: set[tuple[str, dt.date]] = set()
        for rate in rates:
            _check_rate(rate, organization.functional_currency)
            if (rate.currency, rate.date) in seen:  # one statement cannot write a row twice
                raise InvalidExchangeRate(f"rate {rate.currency} {rate.date}: given twice")
            seen.add((rate.currency, rate.date))
        stored = uow.books.set_exchange_rates(
            org_id, [(r.currency, r.date, r.rate, r.source) for r in rates]
        )
        uow.commit()
    return stored


def _check_rate(rate: RateInput, functional_currency: str) -> None:
    where = f"rate {rate.currency} {rate.date}"
    money.exponent(rate.currency)  # UnknownCurrency names the code
    if rate.currency == functional_currency:
        raise InvalidExchangeRate(f"{where}: {rate.currency} is the functional currency")
    if not rate.rate.is_finite() or rate.rate <= 0:
        raise InvalidExchangeRate(f"{where}: rate must be positive, got {rate.rate}")
    problem = rate_digits_problem(rate.rate)
    if problem:
        raise InvalidExchangeRate(f"{where}: {problem}")
    if not rate.source.strip():
        raise InvalidExchangeRate(f"{where}: source must not be empty")
    if len(rate.source) > MAX_SOURCE_LENGTH or not rate.source.isprintable():
        raise InvalidExchangeRate(
            f"{where}: source must be printable text of at most {MAX_SOURCE_LENGTH} characters"
        )


def exchange_rates(
    uow: UnitOfWork, org_id: str, currency: str | None = None, limit: int = 100
) -> list[tuple[str, dt.date, Decimal, str]]:
    with uow:
        uow.organizations.get_or_raise(org_id)
        return uow.books.list_exchange_rates(org_id, currency, limit)


#: Far above any rounding difference, and within the column's precision.
MAX_TOLERANCE = Decimal(10) ** 9


def set_rounding(
    uow: UnitOfWork, org_id: str, account: str, tolerance: Decimal | None = None
) -> Decimal:
    """Make ``account`` take foreign-currency rounding differences up to ``tolerance`` (by
    default a few minor units of the functional currency); returns the tolerance set."""
    with uow:
        organization = uow.organizations.get_or_raise(org_id)
        if tolerance is None:
            tolerance = default_rounding_tolerance(organization.functional_currency)
        if not tolerance.is_finite() or not 0 <= tolerance < MAX_TOLERANCE:
            raise InvalidSetting(
                f"rounding tolerance: must be at least 0 and below {MAX_TOLERANCE},"
                f" got {str(tolerance)[:40]}"
            )
        active = uow.books.account_active(org_id, account)
        if active is None:
            raise InvalidSetting(f"rounding account: no account {account!r} in {org_id!r}")
        if not active:
            raise InvalidSetting(f"rounding account: account {account!r} is inactive")
        uow.books.set_rounding(org_id, rounding_account=account, rounding_tolerance=tolerance)
        uow.commit()
    return tolerance
