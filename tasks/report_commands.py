"""``accounting trial-balance`` and ``accounting export``: the books of one organization."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.table import Table

from accounting import reports, runtime

console = Console()
# Messages go to stderr, so an export on stdout can be piped.
notices = Console(stderr=True)

PERIOD_HELP = "A calendar month, YYYY-MM (default: every date)"


class ExportFormat(StrEnum):
    csv = "csv"
    beancount = "beancount"


def register(cli: typer.Typer) -> None:
    cli.command("trial-balance")(trial_balance)
    cli.command("export")(export)


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
        ExportFormat, typer.Option("--format", help="csv or beancount")
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
    with atomic_text_file(output) as out:
        written = writer(runtime.unit_of_work(), org, period, out)
    what = "lines" if export_format is ExportFormat.csv else "entries"
    notices.print(f"{written:,} {what} of {org} written to {output}")


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
