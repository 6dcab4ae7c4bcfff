"""``accounting token``: the bearer tokens that open the HTTP API for one organization."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from accounting import runtime
from accounting.services import tokens
from tasks.cli.common import Org, console

token = typer.Typer(help="HTTP API tokens: create, list, revoke.", no_args_is_help=True)


@token.command("create")
def create(
    org: Org, label: Annotated[str | None, typer.Option(help="What it is for")] = None
) -> None:
    """Make a token for the organization and print it, once (only its hash is kept)."""
    print(tokens.create_token(runtime.unit_of_work(), org, label))


@token.command("list")
def list_tokens(org: Org) -> None:
    """The organization's tokens, by fingerprint (the start of their hash)."""
    table = Table(title=f"API tokens of {org}")
    for column in ("fingerprint", "label", "created", "revoked"):
        table.add_column(column)
    for row in tokens.list_tokens(runtime.unit_of_work(), org):
        revoked = f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else ""
        table.add_row(row.fingerprint, row.label or "", f"{row.created_at:%Y-%m-%d %H:%M}", revoked)
    console.print(table)


@token.command("revoke")
def revoke(org: Org, fingerprint: Annotated[str, typer.Argument(help="From `token list`")]) -> None:
    """Revoke a token: the API refuses it within seconds (see ACCOUNTING_API_AUTH_CACHE_SECONDS)."""
    tokens.revoke_token(runtime.unit_of_work(), org, fingerprint)
    console.print(f"{org}: token {fingerprint} revoked")
