"""``accounting period``, ``accounting rates`` and ``accounting rounding``: the books' settings."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from accounting import runtime
from accounting.errors import InvalidExchangeRate, UnreadableFile
from accounting.services import books
from accounting.services.books import RateInput
from tasks.cli.common import Org, console
from tasks.cli.files import read_text

period = typer.Typer(help="Close and reopen an organization's months.", no_args_is_help=True)
rates = typer.Typer(help="Exchange rates per organization and date.", no_args_is_help=True)

Month = Annotated[str, typer.Argument(help="The period, YYYY-MM")]


@period.command("close")
def period_close(org: Org, month: Month) -> None:
    """Close a month: nothing is posted into it any more; recreated documents whose entries
    lie in it are reversed in the first open month."""
    change = books.close_period(runtime.unit_of_work(), org, month)
    console.print(f"{org} {change.period}: {'closed' if change.changed else 'already closed'}")


@period.command("reopen")
def period_reopen(org: Org, month: Month) -> None:
    """Reopen a closed month."""
    change = books.reopen_period(runtime.unit_of_work(), org, month)
    console.print(f"{org} {change.period}: {'reopened' if change.changed else 'already open'}")


@period.command("list")
def period_list(
    org: Org, as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False
) -> None:
    """Months with entries or a status, oldest first (a month not listed is open)."""
    rows = books.list_periods(runtime.unit_of_work(), org)
    if as_json:
        print(json.dumps([{"period": p, "status": s} for p, s in rows]))
        return
    table = Table(title=f"periods of {org}")
    table.add_column("period")
    table.add_column("status")
    for name, status in rows:
        table.add_row(name, f"[red]{status}[/]" if status == "closed" else status)
    console.print(table)


@rates.command("set")
def rates_set(
    org: Org,
    currency: Annotated[str, typer.Argument(help="ISO 4217 code, e.g. USD")],
    day: Annotated[str, typer.Argument(metavar="DATE", help="Valid from, YYYY-MM-DD")],
    rate: Annotated[str, typer.Argument(help="Units of functional currency per unit")],
    source: Annotated[str, typer.Option(help="Where the rate comes from")] = "manual",
) -> None:
    """Supply (or correct) one rate. Posting uses the latest rate on or before a document's
    date, unless the document carries its own."""
    stored = books.set_exchange_rates(
        runtime.unit_of_work(), org, [_rate_input(currency, day, rate, source, where="argument")]
    )
    console.print(f"{stored} rate stored for {org}")


@rates.command("import")
def rates_import(
    org: Org,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file")],
) -> None:
    """Import rates from a CSV file with the header currency,date,rate,source. Every row is
    checked first: one bad row imports nothing."""
    reader = csv.DictReader(io.StringIO(read_text(file), newline=""), restval="")
    try:
        missing = {"currency", "date", "rate", "source"} - set(reader.fieldnames or ())
        if missing:
            raise InvalidExchangeRate(f"{file}: missing columns {', '.join(sorted(missing))}")
        inputs = [
            _rate_input(row["currency"], row["date"], row["rate"], row["source"], f"line {n}")
            for n, row in enumerate(reader, start=2)
        ]
    except csv.Error as exc:
        raise UnreadableFile(f"{file}: line {reader.line_num}: not CSV: {exc}") from None
    stored = books.set_exchange_rates(runtime.unit_of_work(), org, inputs)
    console.print(f"{stored} rates stored for {org}")


@rates.command("list")
def rates_list(
    org: Org,
    currency: Annotated[str | None, typer.Option(help="Only this currency")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """The organization's rates, newest first per currency."""
    rows = books.exchange_rates(runtime.unit_of_work(), org, currency, limit)
    table = Table(title=f"exchange rates of {org}")
    for column in ("currency", "date", "rate", "source"):
        table.add_column(column)
    for code, day, value, origin in rows:
        table.add_row(code, day.isoformat(), str(value), origin)
    console.print(table)


def rounding(
    org: Org,
    account: Annotated[str, typer.Option(help="The account that takes rounding differences")],
    tolerance: Annotated[
        str | None,
        typer.Option(help="Largest difference per entry, in the functional currency"),
    ] = None,
) -> None:
    """Set the account that takes foreign-currency rounding differences, and the tolerance
    above which a document fails instead."""
    limit = _decimal(tolerance, "--tolerance") if tolerance is not None else None
    chosen = books.set_rounding(runtime.unit_of_work(), org, account, limit)
    console.print(f"{org}: rounding differences up to {chosen} go to account {account}")


def _rate_input(currency: str, day: str, rate: str, source: str, where: str) -> RateInput:
    try:
        date = dt.date.fromisoformat(day.strip())
    except ValueError:
        raise InvalidExchangeRate(f"{where}: date {day!r} is not YYYY-MM-DD") from None
    return RateInput(currency.strip().upper(), date, _decimal(rate, where), source.strip())


def _decimal(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidExchangeRate(f"{where}: {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise InvalidExchangeRate(f"{where}: {text!r} is not a finite number")
    return value
