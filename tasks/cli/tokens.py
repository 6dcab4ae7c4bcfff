"""``accounting token``: the bearer tokens that open the HTTP API for one organization, and
admin tokens, which open only the onboarding endpoints."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from accounting import runtime
from accounting.services import tokens
from tasks.cli.common import console

token = typer.Typer(help="HTTP API tokens: create, list, revoke.", no_args_is_help=True)

OrgOrNone = Annotated[
    str | None, typer.Argument(help="The organization (none with --admin)", show_default=False)
]
Admin = Annotated[
    bool, typer.Option("--admin", help="An admin token: onboarding endpoints, no organization")
]


def _owner(org: str | None, admin: bool) -> str | None:
    if admin == (org is not None):
        raise typer.BadParameter("give an organization, or --admin (one of them)")
    return org


@token.command("create")
def create(
    org: OrgOrNone = None,
    admin: Admin = False,
    label: Annotated[str | None, typer.Option(help="What it is for")] = None,
) -> None:
    """Make a token for the organization (or with --admin, an admin token) and print it, once
    (only its hash is kept)."""
    owner = _owner(org, admin)
    if owner is None:
        print(tokens.create_admin_token(runtime.unit_of_work(), label))
    else:
        print(tokens.create_token(runtime.unit_of_work(), owner, label))


@token.command("list")
def list_tokens(org: OrgOrNone = None, admin: Admin = False) -> None:
    """The organization's tokens (or with --admin, the admin tokens), by fingerprint (the
    start of their hash)."""
    owner = _owner(org, admin)
    table = Table(title=f"API tokens of {owner}" if owner else "admin API tokens")
    for column in ("fingerprint", "label", "created", "revoked"):
        table.add_column(column)
    for row in tokens.list_tokens(runtime.unit_of_work(), owner):
        revoked = f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else ""
        table.add_row(row.fingerprint, row.label or "", f"{row.created_at:%Y-%m-%d %H:%M}", revoked)
    console.print(table)


@token.command("revoke")
def revoke(
    first: Annotated[str, typer.Argument(metavar="[ORG] FINGERPRINT", help="From `token list`")],
    fingerprint: Annotated[str | None, typer.Argument(hidden=True)] = None,
    admin: Admin = False,
) -> None:
    """Revoke a token (`token revoke ORG FINGERPRINT`, or `token revoke --admin FINGERPRINT`):
    the API refuses it within seconds (see ACCOUNTING_API_AUTH_CACHE_SECONDS)."""
    org, fingerprint = (None, first) if fingerprint is None else (first, fingerprint)
    owner = _owner(org, admin)
    tokens.revoke_token(runtime.unit_of_work(), owner, fingerprint)
    console.print(f"{owner or 'admin'}: token {fingerprint} revoked")
