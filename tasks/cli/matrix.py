"""``accounting matrix`` and ``accounting account``: posting-matrix versions and the chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from accounting import runtime
from accounting.domain.ledger import EntryDraft
from accounting.domain.matrix import PostingMatrix, matrix_to_json
from accounting.errors import IncompleteMatrix
from accounting.services import matrices, organizations, posting
from tasks.cli.common import AsJson, Org, console
from tasks.cli.files import read_chart, read_json, read_matrix

matrix = typer.Typer(help="Posting matrix versions: draft, publish, preview.", no_args_is_help=True)
account = typer.Typer(
    help="Accounts of the chart: import, activate, deactivate, mark as clearing.",
    no_args_is_help=True,
)


@matrix.command("show")
def show(
    org: Org,
    version: Annotated[int | None, typer.Option(help="This version (default: current)")] = None,
    draft: Annotated[bool, typer.Option("--draft", help="The draft")] = False,
    as_json: AsJson = False,
) -> None:
    """The rules of a version, in the JSON format `matrix draft` reads with --json."""
    rules = matrices.load_matrix_version(runtime.unit_of_work(), org, version, draft=draft)
    if as_json:
        print(json.dumps(matrix_to_json(rules), indent=2))
        return
    _print_rules(rules)


@matrix.command("versions")
def versions(org: Org) -> None:
    """Every version: draft or published when, how many rules, which is current."""
    rows, current = matrices.matrix_versions(runtime.unit_of_work(), org)
    table = Table(title=f"posting matrix versions of {org}")
    for column in ("version", "state", "rules"):
        table.add_column(column)
    for row in rows:
        state = (
            "draft" if row.published_at is None else f"published {row.published_at:%Y-%m-%d %H:%M}"
        )
        if row.version == current:
            state += " (current)"
        table.add_row(str(row.version), state, str(row.rules))
    console.print(table)


@matrix.command("draft")
def draft_command(
    org: Org,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Matrix as JSON or .csv")
    ],
) -> None:
    """Store FILE as the draft, replacing the draft there is: JSON ({"rules":
    [{"document_type", "component", "group", "debit", "credit"}]}) or a .csv file with those
    columns (group may be empty or left out: "*", any group)."""
    rules = read_matrix(org, file)
    version = matrices.save_matrix_draft(runtime.unit_of_work(), org, rules)
    console.print(f"{org}: draft version {version} stored; `accounting matrix publish {org}`")


@matrix.command("publish")
def publish(
    org: Org,
    recreate: Annotated[
        bool, typer.Option("--recreate", help="Recreate the documents whose rules changed")
    ] = False,
) -> None:
    """Publish the draft if it covers every component the documents use, with active
    accounts; else list every gap and change nothing."""
    try:
        result = matrices.publish_draft(runtime.unit_of_work(), org, recreate=recreate)
    except IncompleteMatrix as exc:
        console.print(f"[red]error:[/] the draft of {org} cannot be published:")
        for gap in exc.gaps:
            console.print(f"  - {gap}")
        raise typer.Exit(2) from None
    console.print(f"{org}: version {result.version} published")
    if recreate:
        console.print(f"{result.recreated} documents recreated on the normal lane")


@matrix.command("preview")
def preview(
    org: Org,
    file: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, help="A document as JSON")
    ] = None,
    document: Annotated[str | None, typer.Option(help="A stored document's id")] = None,
    version: Annotated[int | None, typer.Option(help="Default: the draft, else current")] = None,
    as_json: AsJson = False,
) -> None:
    """The entries a document would get under a matrix version. Writes nothing."""
    if (file is None) == (document is None):
        raise typer.BadParameter("give a document FILE or --document ID (one of them)")
    raw = read_json(file) if file is not None else None
    drafts = posting.preview_entries(
        runtime.unit_of_work(), org, version, document=raw, document_id=document
    )
    if as_json:
        print(json.dumps([_entry_json(d) for d in drafts], indent=2))
        return
    for draft in drafts:
        _print_entry(draft)


@account.command("import")
def import_accounts(
    org: Org,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Accounts as .csv or JSON")
    ],
) -> None:
    """Add FILE's accounts to the chart (a .csv file with the columns code,name,kind, or JSON:
    [{"code", "name", "kind"}]; kind: asset, liability, equity, revenue or expense) and rename
    those whose name changed. A bad row, or a kind that would change, is named and nothing is
    imported."""
    result = organizations.import_chart(runtime.unit_of_work(), org, read_chart(file))
    console.print(
        f"{org}: {len(result.added)} accounts added, {len(result.renamed)} renamed, "
        f"{len(result.unchanged)} unchanged"
    )


@account.command("activate")
def activate(org: Org, code: Annotated[str, typer.Argument(help="Account code")]) -> None:
    """Let rules name the account again."""
    matrices.set_account_active(runtime.unit_of_work(), org, code, True)
    console.print(f"{org}: account {code} active")


@account.command("deactivate")
def deactivate(org: Org, code: Annotated[str, typer.Argument(help="Account code")]) -> None:
    """Keep new matrices off the account (refused while the current matrix uses it)."""
    matrices.set_account_active(runtime.unit_of_work(), org, code, False)
    console.print(f"{org}: account {code} inactive")


@account.command("clearing")
def account_clearing(
    org: Org,
    code: Annotated[str, typer.Argument(help="Account code")],
    off: Annotated[bool, typer.Option("--off", help="No longer a clearing account")] = False,
) -> None:
    """Mark a clearing account (money in transit, e.g. at the payment provider): `accounting
    audit` reports it when it is not back to zero at the end of a closed period."""
    matrices.set_account_clearing(runtime.unit_of_work(), org, code, not off)
    console.print(f"{org}: account {code} {'is not' if off else 'is'} a clearing account")


def _print_rules(rules: PostingMatrix) -> None:
    table = Table(title=f"posting matrix {rules.org_id} v{rules.version}")
    for column in ("document type", "component", "group", "debit", "credit"):
        table.add_column(column)
    for (document_type, component, group), rule in sorted(rules.rules.items()):
        table.add_row(document_type, component, group, rule.debit, rule.credit)
    console.print(table)


def _print_entry(draft: EntryDraft) -> None:
    table = Table(
        title=f"{draft.document_type} {draft.document_id} entry {draft.seq} on "
        f"{draft.entry_date} (matrix v{draft.matrix_version})"
    )
    for column in ("account", "debit", "credit", "currency", "functional", "rate"):
        table.add_column(column, justify="right")
    for line in draft.lines:
        debit, credit = (line.amount, "") if line.amount >= 0 else ("", -line.amount)
        table.add_row(
            line.account,
            str(debit),
            str(credit),
            line.currency,
            str(line.functional_amount),
            f"{line.rate} ({line.rate_source})",
        )
    console.print(table)


def _entry_json(draft: EntryDraft) -> dict[str, Any]:
    return {
        "document_id": draft.document_id,
        "seq": draft.seq,
        "entry_date": draft.entry_date.isoformat(),
        "matrix_version": draft.matrix_version,
        "lines": [
            {
                "account": line.account,
                "currency": line.currency,
                "amount": str(line.amount),
                "functional_amount": str(line.functional_amount),
                "rate": str(line.rate),
                "rate_source": line.rate_source,
                "rate_date": line.rate_date.isoformat(),
            }
            for line in draft.lines
        ],
    }
