"""``accounting audit``: the books' invariants checked now; exit 1 on any finding."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from accounting import runtime
from accounting.services import audit as audit_checks
from tasks.cli.common import console


def audit(
    org: Annotated[str | None, typer.Argument(help="Only this organization")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Check every entry balances (per currency and in the functional currency), every
    document has one active entry set at the version it posted, every pending document is in
    flight or can be handed out, and every clearing account is back to zero at the end of each
    closed period. Records the run (the nightly job does the same); exits 1 on any finding."""
    report = audit_checks.run_audit(runtime.unit_of_work(), org)
    if as_json:
        print(json.dumps(report.as_dict()))
    else:
        meanings = audit_checks.check_meanings()
        table = Table(title=f"audit run {report.run_id}{f' ({org})' if org else ''}")
        for column in ("check", "findings", "first findings"):
            table.add_column(column)
        for result in report.results:
            examples = "\n".join(
                f"{f.org_id} {f.document_id or ''} {f.entry_id or ''} {f.detail}".replace("  ", " ")
                for f in result.sample[:3]
            )
            style = "red" if result.count else "green"
            table.add_row(
                f"{result.check}\n[dim]{meanings[result.check]}[/]",
                f"[{style}]{result.count:,}[/]",
                examples,
            )
        console.print(table)
    if report.findings:
        raise typer.Exit(1)
