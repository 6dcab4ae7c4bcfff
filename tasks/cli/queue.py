"""Commands of the queue: status, dead letters, pause, resume, schedule, and a dispatcher of
its own."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from functools import partial
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from accounting import runtime
from accounting.services import intake as intake_service
from accounting.services import queue
from tasks import client
from tasks.cli.common import AsJson, Org, OrgOption, console

dead = typer.Typer(help="Documents given up on: list them, retry them.", no_args_is_help=True)


def status(
    org: OrgOption = None,
    as_json: AsJson = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between refreshes")] = 1.0,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many")] = None,
) -> None:
    """Documents pending per lane, in flight, posted and failed."""
    if as_json:
        print(json.dumps(queue.status(runtime.unit_of_work(), org)))
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
    counts = queue.status(runtime.unit_of_work(), org)
    table = Table(title=f"accounting status{f' ({org})' if org else ''}")
    for name in counts:
        table.add_column(name.replace("_", " "), justify="right")
    table.add_row(*(f"{value:,}" for value in counts.values()))
    return table


@dead.command("list")
def dead_list(
    org: OrgOption = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    intake: Annotated[
        bool, typer.Option("--intake", help="Messages kept whole instead of documents")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines")] = False,
) -> None:
    """Dead documents with their last error; with --intake, the messages the workers accepted
    but could not apply, kept whole."""
    if intake:
        _dead_messages(org, limit, as_json)
        return
    rows = queue.dead_documents(runtime.unit_of_work(), org, limit)
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
    kept = intake_service.dead_messages(runtime.unit_of_work(), org, 1)
    if kept:
        console.print("and messages kept whole: [bold]accounting dead list --intake[/]")


def _dead_messages(org: str | None, limit: int, as_json: bool) -> None:
    rows = intake_service.dead_messages(runtime.unit_of_work(), org, limit)
    if as_json:
        for row in rows:
            print(json.dumps({**row.__dict__, "args": None, "kwargs": None}, default=str))
        return
    table = Table(title=f"dead intake: messages kept whole ({len(rows)} shown)")
    for column in ("id", "organization", "task", "job", "deliveries", "kept at", "reason"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            row.org_id or "",
            row.task_name,
            row.task_id,
            str(row.deliveries),
            f"{row.recorded_at:%Y-%m-%d %H:%M:%S}",
            row.reason,
        )
    console.print(table)


@dead.command("retry")
def dead_retry(
    org: Annotated[str, typer.Option(help="The organization")],
    document: Annotated[
        list[str] | None, typer.Option(help="A document id (repeatable); default: all dead")
    ] = None,
    intake: Annotated[
        bool, typer.Option("--intake", help="Send kept messages again instead of documents")
    ] = False,
    message: Annotated[
        list[int] | None,
        typer.Option(help="With --intake: a message id from `dead list --intake` (repeatable)"),
    ] = None,
) -> None:
    """Make dead documents pending again (all of an organization's, or the given ones); with
    --intake, send the messages kept whole again, each under its job id."""
    if intake:
        from tasks.app import app

        sent = intake_service.send_dead_messages_again(
            runtime.unit_of_work(), org, message, partial(client.send_again, app)
        )
        runtime.deliveries().forget(message.task_id for message in sent)
        console.print(f"{len(sent)} messages of {org} sent again")
        return
    revived = queue.retry_dead(runtime.unit_of_work(), org, document)
    console.print(f"{revived} documents of {org} pending again")


def pause(org: Org) -> None:
    """Stop dispatching an organization's documents (nothing is dropped)."""
    queue.set_paused(runtime.unit_of_work(), org, True)
    console.print(f"{org} paused")


def resume(org: Org) -> None:
    """Dispatch a paused organization's documents again."""
    queue.set_paused(runtime.unit_of_work(), org, False)
    console.print(f"{org} resumed")


def schedule(
    org: Org,
    weight: Annotated[int | None, typer.Option(help="Share of the normal lane")] = None,
    max_in_flight: Annotated[int | None, typer.Option(help="Documents in flight at most")] = None,
    rate: Annotated[float | None, typer.Option(help="Documents per second at most")] = None,
    clear: Annotated[
        list[str] | None, typer.Option(help="Remove a limit: max_in_flight or rate_per_second")
    ] = None,
) -> None:
    """Set an organization's weight, in-flight cap or rate limit."""
    queue.set_schedule(
        runtime.unit_of_work(),
        org,
        weight=weight,
        max_in_flight=max_in_flight,
        rate_per_second=Decimal(str(rate)) if rate is not None else None,
        clear=clear or (),
    )
    console.print(f"{org} scheduling updated")


def dispatcher() -> None:
    """Run a dispatcher on its own (normal-lane workers run one by default; one leads)."""
    from tasks.app import app

    stop = threading.Event()
    node = runtime.dispatcher(partial(client.publish_batch, app))
    console.print(f"dispatcher {node.holder} running; Ctrl-C stops it")
    try:
        node.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
