"""SQL of an organization's books settings: periods, exchange rates, the rounding account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import Connection, select, text, update

from accounting.domain.ledger import ExchangeRate
from accounting.store.models import Account, Organization, Period
from accounting.store.models import ExchangeRate as ExchangeRateRow


class BooksRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # -- periods ---------------------------------------------------------------------------

    def closed_periods(self, org_id: str) -> frozenset[dt.date]:
        rows = self.connection.execute(
            select(Period.period).where(Period.org_id == org_id, Period.status == "closed")
        ).scalars()
        return frozenset(rows)

    def set_period_status(self, org_id: str, month: dt.date, status: str) -> str:
        """Set a month's status; return the one it had. The row is locked FOR UPDATE first,
        so a close waits for the postings in flight that touch the month (they hold it FOR
        KEY SHARE, see the trigger in migration 0003) and later postings see it."""
        self.connection.execute(
            text(
                "INSERT INTO periods (org_id, period) VALUES (:org_id, :month)"
                " ON CONFLICT DO NOTHING"
            ),
            {"org_id": org_id, "month": month},
        )
        previous = self.connection.execute(
            select(Period.status)
            .where(Period.org_id == org_id, Period.period == month)
            .with_for_update()
        ).scalar_one()
        if previous != status:
            self.connection.execute(
                update(Period)
                .where(Period.org_id == org_id, Period.period == month)
                .values(status=status, changed_at=text("now()"))
            )
        return str(previous)

    def periods(self, org_id: str) -> list[tuple[dt.date, str]]:
        """Every month that has entries or was closed, oldest first."""
        rows = self.connection.execute(
            select(Period.period, Period.status)
            .where(Period.org_id == org_id)
            .order_by(Period.period)
        ).all()
        return [(month, status) for month, status in rows]

    # -- exchange rates --------------------------------------------------------------------

    def set_exchange_rates(
        self, org_id: str, rates: Iterable[tuple[str, dt.date, Decimal, str]]
    ) -> int:
        """Insert or correct ``(currency, date, rate, source)`` rows."""
        rows = [
            {"org_id": org_id, "currency": c, "rate_date": d, "rate": r, "source": s}
            for c, d, r, s in rates
        ]
        if not rows:
            return 0
        self.connection.execute(
            text(
                """
                INSERT INTO exchange_rates (org_id, currency, rate_date, rate, source)
                VALUES (:org_id, :currency, :rate_date, :rate, :source)
                ON CONFLICT (org_id, currency, rate_date) DO UPDATE
                   SET rate = EXCLUDED.rate, source = EXCLUDED.source, created_at = now()
                """
            ),
            rows,
        )
        return len(rows)

    def exchange_rates(
        self, org_id: str, wanted: Sequence[tuple[str, dt.date]]
    ) -> dict[tuple[str, dt.date], ExchangeRate]:
        """For each ``(currency, day)``: the latest rate on or before that day, if any."""
        if not wanted:
            return {}
        rows = self.connection.execute(
            text(
                """
                SELECT w.currency, w.day, r.rate, r.source, r.rate_date
                  FROM unnest(CAST(:currencies AS text[]), CAST(:days AS date[]))
                       AS w(currency, day)
                  CROSS JOIN LATERAL (
                      SELECT rate, source, rate_date FROM exchange_rates
                       WHERE org_id = :org_id AND currency = w.currency AND rate_date <= w.day
                       ORDER BY rate_date DESC LIMIT 1
                  ) AS r
                """
            ),
            {
                "org_id": org_id,
                "currencies": [currency for currency, _ in wanted],
                "days": [day for _, day in wanted],
            },
        ).all()
        return {
            (currency, day): ExchangeRate(rate, source, rate_date)
            for currency, day, rate, source, rate_date in rows
        }

    def list_exchange_rates(
        self, org_id: str, currency: str | None, limit: int
    ) -> list[tuple[str, dt.date, Decimal, str]]:
        query = select(
            ExchangeRateRow.currency,
            ExchangeRateRow.rate_date,
            ExchangeRateRow.rate,
            ExchangeRateRow.source,
        ).where(ExchangeRateRow.org_id == org_id)
        if currency is not None:
            query = query.where(ExchangeRateRow.currency == currency)
        query = query.order_by(ExchangeRateRow.currency, ExchangeRateRow.rate_date.desc())
        return [(c, d, r, s) for c, d, r, s in self.connection.execute(query.limit(limit)).all()]

    # -- rounding --------------------------------------------------------------------------

    def account_active(self, org_id: str, code: str) -> bool | None:
        """Whether the account is active; None when there is no such account."""
        return self.connection.execute(
            select(Account.active).where(Account.org_id == org_id, Account.code == code)
        ).scalar_one_or_none()

    def set_rounding(self, org_id: str, **values: object) -> None:
        """Update ``rounding_account`` and/or ``rounding_tolerance``."""
        self.connection.execute(
            update(Organization).where(Organization.id == org_id).values(**values)
        )
