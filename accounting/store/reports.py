"""SQL of the reports: trial balance and general-ledger export.

The books are the entries whose status is not ``retired`` (a retired entry set was replaced
while its period was open and never happened); ``reversed`` entries and their ``reversal``
entries both count, each in its own period.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
)

from accounting.domain.report_rows import Account, AccountTotals, Holding, LedgerLine, OrgBooks
from accounting.store.models import Account as AccountTable
from accounting.store.models import JournalEntry, JournalLine, Organization

_Columns = TypeVarTuple("_Columns")

#: Rows a streaming export holds in memory at a time.
STREAM_CHUNK = 5000

_ZERO = literal(0, JournalLine.functional_amount.type)


class ReportRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def use_snapshot(self) -> None:
        """Make every later query of this transaction read the same snapshot, so an export's
        lines, accounts and balances agree while postings go on. Must come first."""
        self.connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))

    def organization(self, org_id: str) -> OrgBooks | None:
        row = self.connection.execute(
            select(Organization.id, Organization.name, Organization.functional_currency).where(
                Organization.id == org_id
            )
        ).one_or_none()
        return OrgBooks(*row) if row else None

    def account_totals(
        self, org_id: str, start: date | None, end: date | None
    ) -> list[AccountTotals]:
        """Per account, in the functional currency: the balance of the lines dated before
        ``start``, and the debits and credits dated from ``start`` to before ``end``."""
        amount = JournalLine.functional_amount
        before = JournalEntry.entry_date < start if start else false()
        within = JournalEntry.entry_date >= start if start else true()
        total = func.coalesce
        query = select(
            AccountTable.code,
            AccountTable.name,
            AccountTable.kind,
            total(func.sum(amount).filter(before), _ZERO),
            total(func.sum(amount).filter(within, amount > 0), _ZERO),
            total(-func.sum(amount).filter(within, amount < 0), _ZERO),
        )
        rows = self.connection.execute(
            _books(query, org_id, None, end)
            .join(AccountTable, _account_of_line())
            .group_by(AccountTable.code, AccountTable.name, AccountTable.kind)
            .order_by(AccountTable.code)
        )
        return [AccountTotals(*row) for row in rows]

    def accounts_used(self, org_id: str, end: date | None) -> list[Account]:
        """Accounts with a counted line dated before ``end``, with the date of their first."""
        query = select(
            AccountTable.code,
            AccountTable.name,
            AccountTable.kind,
            func.min(JournalEntry.entry_date),
        )
        rows = self.connection.execute(
            _books(query, org_id, None, end)
            .join(AccountTable, _account_of_line())
            .group_by(AccountTable.code, AccountTable.name, AccountTable.kind)
            .order_by(AccountTable.code)
        )
        return [Account(*row) for row in rows]

    def holdings(
        self, org_id: str, functional_currency: str, start: date | None, end: date | None
    ) -> list[Holding]:
        """What each account holds per currency (see :class:`Holding`) from the lines dated
        from ``start`` to before ``end``, the way the Beancount export writes them: a line in
        the functional currency or a rounding line (``amount = 0``) by its functional amount,
        any other line by its amount in its own currency."""
        functional = or_(
            JournalLine.amount == 0, JournalLine.currency == literal(functional_currency)
        )
        currency = case((functional, literal(functional_currency)), else_=JournalLine.currency)
        amount = case((functional, JournalLine.functional_amount), else_=JournalLine.amount)
        rows = self.connection.execute(
            _books(select(JournalLine.account_code, currency, func.sum(amount)), org_id, start, end)
            .group_by(JournalLine.account_code, currency)
            .order_by(JournalLine.account_code, currency)
        )
        return [Holding(*row) for row in rows]

    def ledger_lines(
        self, org_id: str, start: date | None, end: date | None
    ) -> Iterator[LedgerLine]:
        """Counted lines dated from ``start`` to before ``end``, ordered by (entry date, entry,
        line), read through a server-side cursor: memory stays flat whatever the books' size."""
        columns = (
            JournalEntry.id,
            JournalEntry.entry_date,
            JournalEntry.document_id,
            JournalEntry.document_type,
            JournalEntry.document_version,
            JournalEntry.matrix_version,
            JournalEntry.status,
            JournalEntry.reverses_id,
            JournalLine.id,
            JournalLine.account_code,
            AccountTable.name,
            AccountTable.kind,
            JournalLine.currency,
            JournalLine.amount,
            JournalLine.functional_amount,
            JournalLine.rate,
            JournalLine.rate_source,
            JournalLine.rate_date,
        )
        query = (
            _books(select(*columns), org_id, start, end)
            .join(AccountTable, _account_of_line())
            .order_by(JournalEntry.entry_date, JournalEntry.id, JournalLine.id)
        )
        # On the statement: Connection.execution_options() would change the connection itself.
        result = self.connection.execute(query.execution_options(yield_per=STREAM_CHUNK))
        try:
            for row in result:
                yield LedgerLine(*tuple(row))
        finally:
            result.close()


def _books(
    query: Select[*_Columns], org_id: str, start: date | None, end: date | None
) -> Select[*_Columns]:
    """``query`` over the organization's counted lines joined to their entries, optionally
    dated from ``start`` to before ``end``."""
    query = (
        query.select_from(JournalEntry)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalEntry.org_id == org_id, JournalEntry.status != "retired")
    )
    if start:
        query = query.where(JournalEntry.entry_date >= start)
    if end:
        query = query.where(JournalEntry.entry_date < end)
    return query


def _account_of_line() -> ColumnElement[bool]:
    return and_(
        AccountTable.org_id == JournalLine.org_id, AccountTable.code == JournalLine.account_code
    )
