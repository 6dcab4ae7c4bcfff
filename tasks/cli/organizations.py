"""``accounting org``: organizations set up from the command line, without Python."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from accounting import runtime
from accounting.services import organizations
from tasks.cli.common import AsJson, Org, console
from tasks.cli.files import read_chart

org = typer.Typer(help="Organizations: create, list.", no_args_is_help=True)


@org.command("create")
def create(
    org_id: Org,
    name: Annotated[str, typer.Option(help="The organization's legal name")],
    currency: Annotated[str, typer.Option(help="Functional currency (ISO 4217, e.g. EUR)")],
    accounts: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Chart of accounts (.csv or JSON)"),
    ] = None,
) -> None:
    """Create an organization, with its chart of accounts from a file (see `account import`)
    if one is given; then draft and publish its posting matrix (`matrix draft`, `matrix
    publish`) before it sends documents."""
    chart = read_chart(accounts) if accounts is not None else []
    organizations.onboard_organization(
        runtime.unit_of_work(), org_id, name, currency.upper(), chart
    )
    console.print(
        f"{org_id}: created ({currency.upper()}, {len(chart)} accounts); next: "
        f"`accounting matrix draft {org_id} FILE`"
    )


@org.command("list")
def list_organizations(as_json: AsJson = False) -> None:
    """Every organization: currency, current matrix version, accounts, documents."""
    rows = organizations.list_organizations(runtime.unit_of_work())
    if as_json:
        import json

        print(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "name": r.name,
                        "functional_currency": r.functional_currency,
                        "matrix_version": r.matrix_version,
                        "accounts": r.accounts,
                        "documents": r.documents,
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table(title="organizations")
    for column in ("id", "name", "currency", "matrix", "accounts", "documents"):
        table.add_column(column)
    for r in rows:
        matrix = f"v{r.matrix_version}" if r.matrix_version is not None else "none"
        table.add_row(
            r.id, r.name, r.functional_currency, matrix, f"{r.accounts:,}", f"{r.documents:,}"
        )
    console.print(table)
