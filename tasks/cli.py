"""The ``accounting`` command line: demo, migrate, status, dead letters, pause, dispatcher."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from decimal import Decimal
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from accounting import migrate as migrations
from accounting import runtime, services
from accounting.config import get_settings
from accounting.errors import AccountingError
from tasks import (
    books_commands,
    job_commands,
    matrix_commands,
    report_commands,
    token_commands,
)
from tasks.audit_commands import audit
from tasks.bench.cli import bench
from tasks.chaos.cli import chaos
from tasks.cli_arguments import CheckedArguments

cli = typer.Typer(
    cls=CheckedArguments,
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
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between refreshes")] = 1.0,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many")] = None,
) -> None:
    """Documents pending per lane, in flight, posted and failed."""
    if as_json:
        print(json.dumps(services.status(runtime.unit_of_work(), org)))
        return
    if not watch:
        console.print(_status_table(org))
        return
    with Live(_status_table(org), console=console, auto_refresh=False) as live:
        refreshes = 1
        while count is None or refreshes < count:
            time.sleep(interval)
            live.update(_status_table(org), refresh=True)
            refreshes += 1


def _status_table(org: str | None) -> Table:
    counts = services.status(runtime.unit_of_work(), org)
    table = Table(title=f"accounting status{f' ({org})' if org else ''}")
    for name in counts:
        table.add_column(name.replace("_", " "), justify="right")
    table.add_row(*(f"{value:,}" for value in counts.values()))
    return table


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes")] = 1,
) -> None:
    """Run the HTTP service: job progress as Server-Sent Events, the queue and its controls,
    /metrics for Prometheus, the status page, and the OpenAPI schema at /docs."""
    import uvicorn

    uvicorn.run("web.app:app", host=host, port=port, workers=workers, log_level="info")


cli.add_typer(bench, name="bench")
cli.command()(chaos)
cli.command()(audit)
cli.command()(job_commands.recreate)
cli.command("import")(job_commands.import_documents)
cli.command()(job_commands.cancel)
cli.add_typer(token_commands.token, name="token")
cli.add_typer(books_commands.period, name="period")
cli.add_typer(books_commands.rates, name="rates")
cli.command()(books_commands.rounding)
cli.add_typer(matrix_commands.matrix, name="matrix")
cli.add_typer(matrix_commands.account, name="account")
report_commands.register(cli)

dead = typer.Typer(help="Documents given up on: list them, retry them.", no_args_is_help=True)
cli.add_typer(dead, name="dead")


@dead.command("list")
def dead_list(
    org: Annotated[str | None, typer.Option(help="Only this organization")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines")] = False,
) -> None:
    """Dead documents with their last error."""
    rows = services.dead_documents(runtime.unit_of_work(), org, limit)
    if as_json:
        for row in rows:
            print(json.dumps(row.__dict__))
        return
    table = Table(title=f"dead documents ({len(rows)} shown)")
    for column in ("organization", "document", "version", "attempts", "last error"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.org_id, row.document_id, str(row.version), str(row.attempts), row.error or ""
        )
    console.print(table)


@dead.command("retry")
def dead_retry(
    org: Annotated[str, typer.Option(help="The organization")],
    document: Annotated[
        list[str] | None, typer.Option(help="A document id (repeatable); default: all dead")
    ] = None,
) -> None:
    """Make dead documents pending again: all of an organization's, or the given ones."""
    revived = services.retry_dead(runtime.unit_of_work(), org, document)
    runtime.wakeup().notify()
    console.print(f"{revived} documents of {org} pending again")


@cli.command()
def pause(org: Annotated[str, typer.Argument(help="The organization")]) -> None:
    """Stop dispatching an organization's documents (nothing is dropped)."""
    services.set_paused(runtime.unit_of_work(), org, True)
    console.print(f"{org} paused")


@cli.command()
def resume(org: Annotated[str, typer.Argument(help="The organization")]) -> None:
    """Dispatch a paused organization's documents again."""
    services.set_paused(runtime.unit_of_work(), org, False)
    runtime.wakeup().notify()
    console.print(f"{org} resumed")


@cli.command()
def schedule(
    org: Annotated[str, typer.Argument(help="The organization")],
    weight: Annotated[int | None, typer.Option(help="Share of the normal lane")] = None,
    max_in_flight: Annotated[int | None, typer.Option(help="Documents in flight at most")] = None,
    rate: Annotated[float | None, typer.Option(help="Documents per second at most")] = None,
    clear: Annotated[
        list[str] | None, typer.Option(help="Remove a limit: max_in_flight or rate_per_second")
    ] = None,
) -> None:
    """Set an organization's weight, in-flight cap or rate limit."""
    services.set_schedule(
        runtime.unit_of_work(),
        org,
        weight=weight,
        max_in_flight=max_in_flight,
        rate_per_second=Decimal(str(rate)) if rate is not None else None,
        clear=clear or (),
    )
    console.print(f"{org} scheduling updated")


@cli.command()
def dispatcher() -> None:
    """Run a dispatcher on its own (normal-lane workers run one by default; one leads)."""
    from accounting.ratelimit import RateLimiter
    from accounting.scheduler import Dispatcher
    from tasks.posting import publish_batch

    settings = get_settings()
    stop = threading.Event()
    node = Dispatcher(
        runtime.engine(),
        publish_batch,
        runtime.wakeup(),
        settings,
        RateLimiter(runtime.redis_client()),
    )
    console.print(f"dispatcher {node.holder} running; Ctrl-C stops it")
    try:
        node.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # SIGTERM (timeout, CI, systemd) unwinds like Ctrl-C, so the workers and embedded servers
    # a command started are stopped rather than orphaned.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        cli()
    except AccountingError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
