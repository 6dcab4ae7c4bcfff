"""Commands on one document: the repairs an operator makes by hand, each recorded in
``operator_actions``."""

from __future__ import annotations

import getpass
import re
from typing import Annotated

import typer

from accounting import runtime
from accounting.errors import InvalidSetting
from accounting.services import documents
from accounting_impact_client.limits import MAX_REVISION
from tasks.cli.common import Org, console

document = typer.Typer(help="One document: repairs by hand, recorded.", no_args_is_help=True)


@document.command("reset-revision")
def reset_revision(
    org: Org,
    document_id: Annotated[str, typer.Argument(metavar="DOC", help="The document id")],
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="N", help="The revision to store (0 to 10^15); default: none"),
    ] = None,
) -> None:
    """Reset a document's stored revision, when a wrong one (microseconds, say) makes every
    later change of it stale. Without --to the next upsert wins, whatever its revision."""
    revision = _revision(to)
    before = documents.reset_revision(
        runtime.unit_of_work(), org, document_id, to=revision, actor=_operator()
    )
    console.print(
        f"{org} {document_id}: revision {_shown(before)} -> {_shown(revision)} (recorded)",
        markup=False,
    )


def _revision(value: str | None) -> int | None:
    # Parsed here, not by click: its refusal would echo a 10 MB value back whole.
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,16}", value):
        raise InvalidSetting(f"--to: a revision is a whole number from 0 to {MAX_REVISION:,}")
    return int(value)


def _operator() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        user = "unknown"
    return f"{user} via accounting document reset-revision"


def _shown(revision: int | None) -> str:
    return "none" if revision is None else str(revision)
