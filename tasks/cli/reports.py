"""``accounting trial-balance`` and ``accounting export``: the books of one organization."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from accounting import runtime
from accounting.services import reports
from tasks.cli.common import console, notices

PERIOD_HELP = "A calendar month, YYYY-MM (default: every date)"


class ExportFormat(StrEnum):
    csv = "csv"
    beancount = "beancount"


def _export_format(value: str) -> ExportFormat:
    """The format named, refused with a bounded message (click's own choice check echoes the
    refused value whole: 10 MB took 80 s to print)."""
    try:
        return ExportFormat(value)
    except ValueError:
        shown = value if len(value) <= 40 else f"{value[:40]}... ({len(value):,} characters)"
        raise typer.BadParameter(f"{shown!r} is not one of csv, beancount") from None


def trial_balance(
    org: Annotated[str, typer.Argument(help="The organization")],
    period: Annotated[str | None, typer.Option(help=PERIOD_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Opening balance, debits, credits and closing balance per account.

    In the functional currency; exits 1 if debits and credits differ (the books are broken).
    """
    balance = reports.trial_balance(runtime.unit_of_work(), org, period)
    if as_json:
        print(json.dumps(balance.as_dict()))
    else:
        console.print(_table(balance))
    if not balance.balanced:
        notices.print(
            f"[red]error:[/] the trial balance of {org} does not balance: debits "
            f"{balance.total_debit}, credits {balance.total_credit}, opening balances sum to "
            f"{balance.total_opening}"
        )
        raise typer.Exit(1)


def export(
    org: Annotated[str, typer.Argument(help="The organization")],
    period: Annotated[str | None, typer.Option(help=PERIOD_HELP)] = None,
    export_format: Annotated[
        str, typer.Option("--format", help="csv or beancount", callback=_export_format)
    ] = ExportFormat.csv,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file (atomically); default: stdout")
    ] = None,
) -> None:
    """The general ledger as CSV or Beancount.

    CSV: one row per journal line. Beancount: one transaction per entry, then balance
    assertions computed by the database, for bean-check to verify.
    """
    writer = reports.export_csv if export_format is ExportFormat.csv else reports.export_beancount
    if output is None:
        writer(runtime.unit_of_work(), org, period, sys.stdout)
        return
    with reports.atomic_text_file(output) as out:
        written = writer(runtime.unit_of_work(), org, period, out)
    what = "lines" if export_format is ExportFormat.csv else "entries"
    notices.print(f"{written:,} {what} of {org} written to {output}")


def _table(balance: reports.TrialBalance) -> Table:
    money = balance.as_dict()
    scope = f"period {balance.period}" if balance.period else "every period"
    table = Table(
        title=f"trial balance of {balance.org_id}, {scope} ({balance.functional_currency})"
    )
    table.add_column("account")
    table.add_column("name")
    table.add_column("kind")
    for column in ("opening", "debit", "credit", "closing"):
        table.add_column(column, justify="right")
    for row in money["accounts"]:
        table.add_row(
            row["code"],
            row["name"],
            row["kind"],
            row["opening"],
            row["debit"],
            row["credit"],
            row["closing"],
        )
    totals = money["totals"]
    table.add_section()
    table.add_row(
        "total", "", "", totals["opening"], totals["debit"], totals["credit"], totals["closing"]
    )
    return table
