"""``accounting chaos``: the workload under faults, and the verdict from Postgres."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from accounting.config import get_settings
from tasks.tools.chaos.faults import FAULTS
from tasks.tools.chaos.run import ChaosOptions, Verdict, run
from tasks.tools.chaos.servers import bouncer_installed


def chaos(
    documents: Annotated[int, typer.Option(min=1, help="Documents synced")] = 100_000,
    orgs: Annotated[int, typer.Option(min=1, help="Organizations they belong to")] = 4,
    fault_every: Annotated[float, typer.Option(min=0.1, help="Seconds between faults")] = 5.0,
    rate: Annotated[
        float, typer.Option(min=0, help="Documents sent per second at most (0: no limit)")
    ] = 0.0,
    updates: Annotated[
        float, typer.Option(min=0, max=1, help="Share of documents updated during the sync")
    ] = 0.05,
    recreate_every: Annotated[
        float, typer.Option(min=0.05, help="Seconds between user recreates")
    ] = 0.5,
    lease_seconds: Annotated[
        int, typer.Option(min=5, help="Workers' lease: how soon a lost batch is redispatched")
    ] = 15,
    outage: Annotated[
        float,
        typer.Option(min=1, help="Seconds Redis is down (Postgres, PgBouncer 1 to 1.5 times)"),
    ] = 60.0,
    seed: Annotated[int, typer.Option(help="Seeds the documents and the fault schedule")] = 1,
    timeout: Annotated[float, typer.Option(min=1, help="Give up after this many seconds")] = 1800,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Sync DOCUMENTS documents with delay(), with updates and user recreates racing them,
    while killing workers and the leading dispatcher, flushing Redis, restarting Redis,
    Postgres and PgBouncer and taking each down for OUTAGE seconds or more, and, as a hostile
    tenant, flooding the high lane and sending a message too large and a poison message; then
    count, in SQL, what was lost, posted twice or is unbalanced, and check the hostile
    messages were refused or quarantined. Runs its own Postgres, Redis and (if installed)
    PgBouncer in <data dir>/chaos, whatever URLs are configured: it has to restart them. Exits
    1 on any loss, duplicate or imbalance, or a hostile message taken in."""
    console = Console(stderr=as_json)
    options = ChaosOptions(
        documents,
        orgs,
        seed,
        fault_every,
        rate,
        updates,
        recreate_every,
        lease_seconds,
        timeout,
        outage=outage,
    )
    if not bouncer_installed():
        console.print("[yellow]pgbouncer is not installed: no pgbouncer_restart faults[/]")
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    )
    with progress:
        verdict = run(options, Path(get_settings().data_dir) / "chaos", progress)
    if as_json:
        print(json.dumps({k: v for k, v in verdict.as_dict().items() if k != "timeline"}))
    else:
        _report(console, verdict)
    if not verdict.passed:
        raise typer.Exit(1)


def _report(console: Console, verdict: Verdict) -> None:
    figures = verdict.as_dict()
    table = Table(title=f"chaos: {verdict.expected:,} documents, {figures['seconds']} s")
    table.add_column("")
    table.add_column("", justify="right")
    for name in ("expected", "posted", "lost", "duplicated", "unbalanced"):
        table.add_row(name, f"{figures[name]:,}")
    for reason, count in verdict.lost.items():
        table.add_row(f"  lost: {reason}", f"{count:,}")
    for name in (
        "updates",
        "recreates",
        "resent_chunks",
        "not_accepted_chunks",
        "worker_crashes",
        "documents_per_s",
    ):
        table.add_row(name.replace("_", " "), f"{figures[name]:,}")
    for kind, sent in verdict.hostile_sent.items():
        table.add_row(
            f"{kind}: kept in the dead intake", f"{verdict.hostile_kept.get(kind, 0)} of {sent}"
        )
    for fault in FAULTS:
        table.add_row(f"fault {fault}", str(verdict.faults.get(fault, 0)))
    console.print(table)
    for at, kind, target in figures["timeline"]:
        console.print(f"  {at:7.1f} s  {kind:<18} {target}")
    console.print("[green]passed[/]" if verdict.passed else "[red]FAILED[/]")
