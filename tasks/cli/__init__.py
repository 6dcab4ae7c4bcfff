"""The ``accounting`` command line. Every command is registered here, in one place; each
module of this package owns one group of them, and the tools (demo, bench, chaos) bring
theirs."""

from __future__ import annotations

import signal
import sys

import typer

from accounting.errors import AccountingError, ContractError
from tasks.cli import (
    admin,
    audit,
    books,
    contract,
    documents,
    jobs,
    matrix,
    organizations,
    queue,
    reports,
    sandbox,
    tokens,
)
from tasks.cli.arguments import CheckedArguments
from tasks.cli.common import console
from tasks.tools import demo
from tasks.tools.bench.cli import bench
from tasks.tools.chaos.cli import chaos

cli = typer.Typer(
    cls=CheckedArguments,
    help="accounting-impact: business documents in, balanced general-ledger entries out.",
    no_args_is_help=True,
    add_completion=False,
    # With no URLs configured, a command gets the data folder's embedded services.
    callback=sandbox.embedded_default,
)

for command in (
    demo.demo,
    admin.migrate,
    admin.serve,
    queue.status,
    queue.pause,
    queue.resume,
    queue.schedule,
    queue.dispatcher,
    jobs.recreate,
    jobs.cancel,
    books.rounding,
    audit.audit,
    contract.schema,
    sandbox.up,
    sandbox.down,
    chaos,
):
    cli.command()(command)
cli.command("import")(jobs.import_documents)
cli.command("trial-balance")(reports.trial_balance)
cli.command("export")(reports.export)
for group, name in (
    (queue.dead, "dead"),
    (documents.document, "document"),
    (tokens.token, "token"),
    (books.period, "period"),
    (books.rates, "rates"),
    (matrix.matrix, "matrix"),
    (matrix.account, "account"),
    (organizations.org, "org"),
    (bench, "bench"),
):
    cli.add_typer(group, name=name)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # SIGTERM (timeout, CI, systemd) unwinds like Ctrl-C, so the workers and embedded servers
    # a command started are stopped rather than orphaned.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        cli()
    except (AccountingError, ContractError) as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(2)
