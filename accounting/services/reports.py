"""Reports use cases: the trial balance, and the general ledger exported as CSV or Beancount.

The books are the entries whose status is not ``retired``. A period is a calendar month
(``YYYY-MM``); without one, a report covers every date.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, localcontext
from operator import attrgetter
from pathlib import Path
from typing import Any, TextIO

from accounting.domain import beancount as beancount
from accounting.domain.money import MONEY_CONTEXT
from accounting.domain.report_rows import AccountTotals, LedgerLine, Month, OrgBooks, decimal_text
from accounting.errors import UnknownOrganization
from accounting.store.uow import UnitOfWork
from accounting_impact_client.values import storable

CSV_COLUMNS = (
    "entry_id",
    "entry_date",
    "document_id",
    "document_type",
    "document_version",
    "matrix_version",
    "status",
    "account_code",
    "account_name",
    "currency",
    "amount",
    "functional_amount",
    "functional_currency",
    "rate",
    "rate_source",
    "rate_date",
    "reverses_id",
)


@dataclass(frozen=True)
class TrialBalance:
    """Per account, in the functional currency: the balance before the period (signed: debit
    positive), the period's debits and credits, and the balance after it."""

    org_id: str
    functional_currency: str
    period: str | None
    rows: tuple[AccountTotals, ...]

    @property
    def total_opening(self) -> Decimal:
        return _total(row.opening for row in self.rows)

    @property
    def total_debit(self) -> Decimal:
        return _total(row.debit for row in self.rows)

    @property
    def total_credit(self) -> Decimal:
        return _total(row.credit for row in self.rows)

    @property
    def total_closing(self) -> Decimal:
        return _total(row.closing for row in self.rows)

    @property
    def balanced(self) -> bool:
        """Debits equal credits, and the balances before and after the period sum to zero.
        False means the books are broken (every entry balances at commit): report it."""
        return self.total_debit == self.total_credit and self.total_opening == 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, money as decimal strings."""
        money = self._money
        return {
            "org_id": self.org_id,
            "period": self.period,
            "functional_currency": self.functional_currency,
            "balanced": self.balanced,
            "accounts": [
                {
                    "code": row.code,
                    "name": row.name,
                    "kind": row.kind,
                    "opening": money(row.opening),
                    "debit": money(row.debit),
                    "credit": money(row.credit),
                    "closing": money(row.closing),
                }
                for row in self.rows
            ],
            "totals": {
                "opening": money(self.total_opening),
                "debit": money(self.total_debit),
                "credit": money(self.total_credit),
                "closing": money(self.total_closing),
            },
        }

    def _money(self, amount: Decimal) -> str:
        return decimal_text(amount, self.functional_currency)


def parse_period(period: str | None) -> Month | None:
    """``None`` (every date) or the month ``YYYY-MM``; anything else raises InvalidPeriod."""
    return None if period is None else Month.parse(period)


def trial_balance(uow: UnitOfWork, org_id: str, period: str | None) -> TrialBalance:
    month = parse_period(period)
    with uow:
        books = _books(uow, org_id)
        totals = uow.reports.account_totals(
            org_id, month.start if month else None, month.end if month else None
        )
    rows = tuple(t for t in totals if t.opening or t.debit or t.credit)
    label = month.label if month else None
    return TrialBalance(org_id, books.functional_currency, label, rows)


def export_csv(uow: UnitOfWork, org_id: str, period: str | None, out: TextIO) -> int:
    """One row per journal line of the period (every date without one), with a header.
    Returns the number of lines written."""
    month = parse_period(period)
    writer = csv.writer(out, lineterminator="\n")
    written = 0
    with uow:
        uow.reports.use_snapshot()
        books = _books(uow, org_id)
        writer.writerow(CSV_COLUMNS)
        for line in _lines(uow, org_id, month):
            writer.writerow(_csv_row(line, books.functional_currency))
            written += 1
    return written


def export_beancount(uow: UnitOfWork, org_id: str, period: str | None, out: TextIO) -> int:
    """The books as a Beancount file (see :mod:`accounting.beancount_format`): every entry of
    the period (every date without one) as a transaction, then a balance assertion of each
    account's holdings at the end. A period export starts with the holdings before the period
    as one opening transaction, so its assertions check the period on top of them. Everything
    is read from one snapshot. Returns the number of entries written."""
    month = parse_period(period)
    with uow:
        uow.reports.use_snapshot()
        books = _books(uow, org_id)
        functional = books.functional_currency
        end = month.end if month else None
        accounts = uow.reports.accounts_used(org_id, end)
        kinds = {account.code: account.kind for account in accounts}
        opening = uow.reports.holdings(org_id, functional, None, month.start) if month else []
        closing = uow.reports.holdings(org_id, functional, None, end)
        out.write(beancount.header(books.name, functional, _comment(books, month)))
        if opening and month:
            out.write(beancount.opening_open_directive(month.start))
        out.write(beancount.open_directives(accounts))
        if month:
            out.write(beancount.opening_transaction(opening, kinds, month.start, month.label))
        entries = 0
        last: date | None = None
        for _, group in itertools.groupby(_lines(uow, org_id, month), attrgetter("entry_id")):
            lines = list(group)
            out.write(beancount.transaction(lines, functional))
            entries, last = entries + 1, lines[0].entry_date
        # Assertions hold at the start of their date: the day after the last entry.
        assert_on = month.end if month else (last + timedelta(days=1) if last else None)
        if assert_on:
            out.write(beancount.balance_assertions(closing, kinds, assert_on))
    return entries


def _books(uow: UnitOfWork, org_id: str) -> OrgBooks:
    books = uow.reports.organization(org_id) if storable(org_id) else None
    if books is None:
        raise UnknownOrganization(f"unknown organization {org_id!r}")
    return books


def _lines(uow: UnitOfWork, org_id: str, month: Month | None) -> Iterator[LedgerLine]:
    if month is None:
        return uow.reports.ledger_lines(org_id, None, None)
    return uow.reports.ledger_lines(org_id, month.start, month.end)


def _csv_row(line: LedgerLine, functional_currency: str) -> tuple[object, ...]:
    return (
        line.entry_id,
        line.entry_date.isoformat(),
        line.document_id,
        line.document_type,
        line.document_version,
        line.matrix_version,
        line.status,
        line.account_code,
        line.account_name,
        line.currency,
        decimal_text(line.amount, line.currency),
        decimal_text(line.functional_amount, functional_currency),
        functional_currency,
        decimal_text(line.rate),
        line.rate_source,
        line.rate_date.isoformat(),
        "" if line.reverses_id is None else line.reverses_id,
    )


def _comment(books: OrgBooks, month: Month | None) -> str:
    scope = f"period {month.label}" if month else "every period"
    return f"accounting-impact: books of organization {books.org_id}, {scope}"


def _total(amounts: Iterable[Decimal]) -> Decimal:
    with localcontext(MONEY_CONTEXT):
        return sum(amounts, Decimal(0))


@contextlib.contextmanager
def atomic_text_file(path: Path) -> Iterator[TextIO]:
    """A file that appears at ``path`` complete, or not at all: written beside it under a
    temporary name, flushed to disk, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; an export is an ordinary file
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
