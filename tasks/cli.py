"""The ``accounting`` command line: demo, migrate, status, dispatcher."""

from __future__ import annotations

import json
import sys
import threading
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from accounting import migrate as migrations
from accounting import runtime, services
from accounting.config import get_settings
from accounting.errors import AccountingError

cli = typer.Typer(
    help="accounting-impact: business documents in, balanced general-ledger entries out.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@cli.command()
def demo(
    documents: Annotated[int, typer.Option(min=1, help="Documents in the bulk sync")] = 3000,
    recreates: Annotated[int, typer.Option(min=0, help="User recreates during the sync")] = 5,
    normal_concurrency: Annotated[int, typer.Option(min=1)] = 2,
    high_concurrency: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Start embedded Postgres and Redis if no URLs are set, migrate, seed a demo organization,
    run a high and a normal worker, sync DOCUMENTS documents plus user recreates, and report."""
    from tasks import demo as demo_run

    result = demo_run.run(documents, recreates, normal_concurrency, high_concurrency)
    demo_run.report(result)
    if result.posted != result.documents:
        console.print(f"[red]{result.documents - result.posted} documents not posted[/]")
        raise typer.Exit(1)


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the latest version (alembic upgrade head)."""
    migrations.upgrade(runtime.database_url())
    console.print("schema is at head")


@cli.command()
def status(
    org: Annotated[str | None, typer.Option(help="Only this organization")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Documents pending per lane, in flight, posted and failed."""
    counts = services.status(runtime.unit_of_work(), org)
    if as_json:
        print(json.dumps(counts))
        return
    table = Table(title=f"accounting status{f' ({org})' if org else ''}")
    for name in counts:
        table.add_column(name.replace("_", " "), justify="right")
    table.add_row(*(f"{value:,}" for value in counts.values()))
    console.print(table)


@cli.command()
def dispatcher() -> None:
    """Run a dispatcher on its own (normal-lane workers run one by default; one leads)."""
    from accounting.scheduler import Dispatcher
    from tasks.posting import publish_batch

    settings = get_settings()
    stop = threading.Event()
    node = Dispatcher(runtime.engine(), publish_batch, runtime.wakeup(), settings)
    console.print(f"dispatcher {node.holder} running; Ctrl-C stops it")
    try:
        node.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()


def main() -> None:
    try:
        cli()
    except AccountingError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(2)
