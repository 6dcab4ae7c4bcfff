"""Accounting periods: calendar months, named ``YYYY-MM``, and where a late entry lands."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Set

from accounting.errors import InvalidPeriod

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def month_of(day: dt.date) -> dt.date:
    """The period a day belongs to, as the first day of its month."""
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return add_months(month, 1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def posting_date(day: dt.date, closed: Set[dt.date]) -> dt.date:
    """``day`` itself while its period is open; else the first day of the first open period
    after it (nothing is written into a closed period)."""
    month = month_of(day)
    if month not in closed:
        return day
    while month in closed:
        month = next_month(month)
    return month


def parse_period(text: str) -> dt.date:
    """``"2026-03"`` -> 2026-03-01."""
    match = _PERIOD.fullmatch(text.strip())
    # Years as documents' dates allow: 9999-12 has no month after it to end it.
    if match is None or not 1 <= int(match[2]) <= 12 or not 1900 <= int(match[1]) <= 2999:
        shown = text if len(text) <= 20 else text[:20] + "…"
        raise InvalidPeriod(
            f"invalid period {shown!r}: expected YYYY-MM between 1900-01 and 2999-12, e.g. 2026-03"
        )
    return dt.date(int(match[1]), int(match[2]), 1)


def period_name(month: dt.date) -> str:
    return f"{month.year:04d}-{month.month:02d}"
