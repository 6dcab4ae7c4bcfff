"""``accounting bench`` scenarios of what grows with a deployment: the cost of a scrape as
history grows, Postgres connections as workers are added, SSE followers per server. Registered
on ``bench`` by tasks.tools.bench.cli."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from accounting import runtime
from tasks.tools.bench import connections as connections_bench
from tasks.tools.bench import scaleout as scaleout_bench
from tasks.tools.bench import scrape as scrape_bench
from tasks.tools.bench import soak as soak_bench
from tasks.tools.bench import sse as sse_bench
from tasks.tools.bench.harness import bench_environment

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object (per run)")]


def scrape(
    documents: Annotated[
        int, typer.Option(min=10_000, help="Documents stored (history) at the second step")
    ] = 5_000_000,
    scrapes: Annotated[int, typer.Option(min=10, help="Scrapes timed at each step")] = 200,
    as_json: JsonFlag = False,
) -> None:
    """What a metrics scrape costs in Postgres at 10,000 documents and at DOCUMENTS: ours (the
    partial indexes) vs the full-table count scrapes ran before, in one invocation."""
    with bench_environment(as_json) as environment:
        runs = scrape_bench.run(environment, sorted({10_000, documents}), scrapes)
        figures = {"scrapes": scrapes, "steps": [vars(run) for run in runs]}
        if as_json:
            print(json.dumps(figures))
            return
        table = Table(title=f"scrape cost in Postgres, {scrapes} scrapes per step")
        for column in ("documents", "ours p50 ms", "ours p99 ms", "baseline p50", "baseline p99"):
            table.add_column(column)
        for run in runs:
            table.add_row(
                f"{run.documents:,}",
                str(run.ours_p50_ms),
                str(run.ours_p99_ms),
                str(run.baseline_p50_ms),
                str(run.baseline_p99_ms),
            )
        environment.console.print(table)


def connections(
    workers: Annotated[int, typer.Option(min=1, help="Concurrent workers")] = 64,
    seconds: Annotated[float, typer.Option(min=0.5, help="How long they work")] = 10,
    postgres_url: Annotated[
        str | None,
        typer.Option(help="Postgres itself, for the baseline run without PgBouncer"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Peak Postgres server connections while WORKERS workers store and post documents
    through ACCOUNTING_DATABASE_URL (PgBouncer in production); with --postgres-url, the same
    straight to Postgres as the baseline."""
    with bench_environment(as_json) as environment:
        url = runtime.database_url()
        # The baseline first: afterwards PgBouncer keeps its own server connections open.
        direct = (
            connections_bench.run(environment, postgres_url, postgres_url, workers, seconds)
            if postgres_url
            else None
        )
        ours = connections_bench.run(environment, url, url, workers, seconds)
        figures = {
            "workers": workers,
            "url": ours.url,
            "transactions": ours.transactions,
            "peak_server_connections": ours.peak_server_connections,
            "baseline_url": direct.url if direct else None,
            "baseline_peak_server_connections": direct.peak_server_connections if direct else None,
        }
        if as_json:
            print(json.dumps(figures))
            return
        table = Table(title=f"{workers} concurrent workers: Postgres server connections at peak")
        for column in ("through", "transactions", "peak server connections"):
            table.add_column(column)
        for run in filter(None, (ours, direct)):
            table.add_row(run.url, f"{run.transactions:,}", str(run.peak_server_connections))
        environment.console.print(table)


def sse(
    clients: Annotated[int, typer.Option(min=1, help="Clients following jobs at once")] = 1000,
    jobs: Annotated[int, typer.Option(min=1, help="Jobs they follow")] = 50,
    documents: Annotated[int, typer.Option(min=1, help="Documents per job")] = 20,
    spacing: Annotated[float, typer.Option(min=0, help="Seconds between rounds")] = 0.2,
    server_workers: Annotated[int, typer.Option(min=1, help="accounting serve processes")] = 2,
    as_json: JsonFlag = False,
) -> None:
    """Delay from a posting's commit to the clients knowing it: Server-Sent Events against
    polling GET /v1/jobs/{id} every 3 s, CLIENTS clients spread over JOBS jobs."""
    with bench_environment(as_json) as environment:
        runs = {
            mode: sse_bench.run(
                environment, mode, clients, jobs, documents, spacing, server_workers
            )
            for mode in ("push", "poll")
        }
        push, poll = runs["push"].figures(), runs["poll"].figures()
        if as_json:
            print(json.dumps({**push, "baseline_poll": poll}))
            return
        table = Table(title=f"progress delivery, {clients:,} clients over {jobs} jobs")
        for column in (
            "mode",
            "p50 ms",
            "p99 ms",
            "max ms",
            "lost events",
            "deliveries",
            "Redis conns/process",
        ):
            table.add_column(column)
        for mode, figures in (("push (SSE)", push), ("poll every 3 s", poll)):
            table.add_row(
                mode,
                str(figures["p50_ms"]),
                str(figures["p99_ms"]),
                str(figures["max_ms"]),
                str(figures["lost_events"]),
                f"{figures['deliveries']:,}",
                str(figures["redis_connections_per_server_process"]),
            )
        environment.console.print(table)
        environment.say(f"{clients:,} streams open in {runs['push'].connect_seconds:.1f} s")


def scaleout(
    steps: Annotated[
        str, typer.Option(help="Normal-lane worker processes at each step, comma-separated")
    ] = "1,2,4,8",
    documents: Annotated[int, typer.Option(min=100, help="Documents posted at each step")] = 20_000,
    delay_ms: Annotated[
        float, typer.Option(min=0, help="Delay each way to Redis and Postgres (another host)")
    ] = 1.0,
    timeout: Annotated[float, typer.Option(help="Give up a step after this many seconds")] = 900,
    as_json: JsonFlag = False,
) -> None:
    """Documents/s as worker processes are added, each behind a TCP proxy that adds a delay
    each way: the window that follows capacity against today's fixed window, in one run."""
    counts = sorted({int(n) for n in steps.split(",") if n.strip()})
    with bench_environment(as_json) as environment:
        runs = scaleout_bench.run(environment, counts, documents, delay_ms, timeout)
        figures = {
            "delay_ms": delay_ms,
            "documents": documents,
            "steps": [{**vars(s), "docs_per_s": round(s.docs_per_s)} for s in runs],
            "flattens_at": scaleout_bench.flattens_at(runs),
            "baseline_flattens_at": scaleout_bench.flattens_at(runs, "fixed"),
        }
        if as_json:
            print(json.dumps(figures))
            return
        table = Table(title=f"scale-out, {documents:,} documents a step, {delay_ms} ms each way")
        for column in ("workers", "ours docs/s", "ours CPU %", "fixed docs/s", "fixed CPU %"):
            table.add_column(column)
        by = {(s.mode, s.workers): s for s in runs}
        for n in counts:
            ours, fixed = by[("ours", n)], by[("fixed", n)]
            table.add_row(
                str(n),
                f"{ours.docs_per_s:,.0f}",
                str(ours.cpu_percent),
                f"{fixed.docs_per_s:,.0f}",
                str(fixed.cpu_percent),
            )
        environment.console.print(table)
        environment.say(f"ours flattens at {figures['flattens_at']} workers (None: it does not)")


def soak(
    minutes: Annotated[float, typer.Option(min=0.05, help="How long the steady load runs")] = 30,
    rate: Annotated[float, typer.Option(min=1, help="Document updates per second")] = 300,
    population: Annotated[int, typer.Option(min=100, help="Live documents updated")] = 20_000,
    sample_seconds: Annotated[float, typer.Option(min=1, help="Sampling period")] = 60,
    as_json: JsonFlag = False,
) -> None:
    """A steady load of updates and recreates for MINUTES, sampled every minute: throughput,
    table and index sizes, dead tuples, autovacuum runs; the last tenth against the first."""
    with bench_environment(as_json) as environment:
        samples = soak_bench.run(environment, minutes, rate, population, sample_seconds)
        figures = {"rate": rate, "population": population, **soak_bench.verdict(samples)}
        if as_json:
            print(json.dumps({**figures, "samples": [vars(s) for s in samples]}))
            return
        table = Table(title=f"soak: {rate:g} updates/s over {population:,} documents")
        for column in (
            "minute",
            "posted/s",
            "pending",
            *(f"{t} MB (dead)" for t in soak_bench.TABLES),
        ):
            table.add_column(column)
        for s in samples:
            sizes = [
                f"{s.tables[t][0] / 2**20:.1f} ({s.tables[t][2]:,})" if t in s.tables else "-"
                for t in soak_bench.TABLES
            ]
            table.add_row(str(s.minute), str(s.posted_per_s), f"{s.pending:,}", *sizes)
        environment.console.print(table)
        environment.say(json.dumps(figures))
