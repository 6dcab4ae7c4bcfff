"""``accounting bench ...``: each scenario prints its figures and its baseline's."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from accounting import runtime
from tasks.tools.bench import backlog as backlog_bench
from tasks.tools.bench import cache as cache_bench
from tasks.tools.bench import ceiling as ceiling_bench
from tasks.tools.bench import fairness as fairness_bench
from tasks.tools.bench import flood as flood_bench
from tasks.tools.bench import priority as priority_bench
from tasks.tools.bench import recreate_all as recreate_all_bench
from tasks.tools.bench import scale_cli
from tasks.tools.bench import throughput as throughput_bench
from tasks.tools.bench.harness import MODES, bench_environment, env_items
from tasks.tools.bench.throughput import ORGS

bench = typer.Typer(
    help="Benchmarks against a baseline run in the same invocation.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object (per run)")]


@bench.command()
def priority(
    backlog: Annotated[int, typer.Option(min=1, help="Normal-lane backlog (documents)")] = 100_000,
    recreates: Annotated[int, typer.Option(min=1, help="User recreates of one document")] = 20,
    spacing: Annotated[float, typer.Option(min=0, help="Seconds between recreates")] = 0.5,
    as_json: JsonFlag = False,
) -> None:
    """Recreate latency (delay() -> committed) while a backlog drains: ours vs one FIFO queue."""
    with bench_environment(as_json) as environment:
        runs = {
            mode: priority_bench.run(environment, mode, backlog, recreates, spacing)
            for mode in MODES
        }
        figures = {
            "backlog": backlog,
            **{mode: run.figures() for mode, run in runs.items()},
            "redis_before_mb": round(runs["ours"].redis_before_mb, 2),
            "redis_peak_mb": round(max(run.redis_peak_mb for run in runs.values()), 2),
            "drained_per_s": {mode: round(run.drained_per_s) for mode, run in runs.items()},
        }
        if as_json:
            print(json.dumps(figures))
            return
        table = Table(title=f"recreate latency, {recreates} recreates, backlog {backlog:,}")
        for column in ("mode", "p50 ms", "p99 ms", "max ms", "backlog drained/s", "settings"):
            table.add_column(column)
        for mode, run in runs.items():
            f = run.figures()
            table.add_row(
                mode,
                str(f["p50_ms"]),
                str(f["p99_ms"]),
                str(f["max_ms"]),
                f"{run.drained_per_s:,.0f}",
                env_items(MODES[mode]),
            )
        environment.console.print(table)
        environment.console.print(
            f"Redis used_memory: {figures['redis_before_mb']} MB before, "
            f"{figures['redis_peak_mb']} MB at peak"
        )


@bench.command()
def flood(
    flood_documents: Annotated[int, typer.Option(min=1, help="The flooder's documents")] = 9000,
    per_request: Annotated[int, typer.Option(min=1, help="Documents per flood recreate")] = 3000,
    waves: Annotated[int, typer.Option(min=1, help="Times the flooder recreates them all")] = 1,
    recreates: Annotated[int, typer.Option(min=1, help="The victim's recreates")] = 40,
    spacing: Annotated[float, typer.Option(min=0, help="Seconds between them")] = 0.3,
    as_json: JsonFlag = False,
) -> None:
    """Another tenant's one-document recreate latency while a tenant floods the high lane with
    large recreates, against the same recreates with nobody flooding."""
    with bench_environment(as_json) as environment:
        runs = {
            label: flood_bench.run(
                environment,
                label == "flood",
                flood_documents,
                per_request,
                waves,
                recreates,
                spacing,
            )
            for label in ("quiet", "flood")
        }
        figures = {label: run.figures() for label, run in runs.items()}
        if as_json:
            print(json.dumps(figures))
            return
        table = Table(title=f"a tenant's recreate latency, {recreates} recreates")
        for column in ("run", "p50 ms", "p99 ms", "max ms", "flood requests", "flood posted/s"):
            table.add_column(column)
        for label, f in figures.items():
            table.add_row(
                label,
                str(f["p50_ms"]),
                str(f["p99_ms"]),
                str(f["max_ms"]),
                str(f["flood_requests"]),
                str(f["flood_posted_per_s"]),
            )
        environment.console.print(table)


@bench.command()
def fairness(
    n: Annotated[
        list[int] | None, typer.Option(help="Large organization's backlog (repeatable)")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Give up a run after this many seconds")] = 900,
    as_json: JsonFlag = False,
) -> None:
    """Time for each of ten small organizations (200 documents) to be fully posted while a
    large organization's backlog drains: ours vs one FIFO queue."""
    sizes = n or [1_000, 100_000]
    with bench_environment(as_json) as environment:
        for size in sizes:
            runs = {mode: fairness_bench.run(environment, mode, size, timeout) for mode in MODES}
            figures = {
                "n": size,
                **{mode: {"max_small_org_s": run.max_small_org_s} for mode, run in runs.items()},
            }
            if as_json:
                print(json.dumps(figures))
                continue
            table = Table(title=f"small organizations fully posted, large backlog {size:,}")
            table.add_column("mode")
            table.add_column("max s")
            table.add_column("each small organization, s")
            for mode, run in runs.items():
                each = " ".join(f"{s:.2f}" for s in sorted(run.seconds_by_org.values()))
                table.add_row(mode, f"{run.max_small_org_s:.2f}", each)
            environment.console.print(table)


@bench.command()
def backlog(
    n: Annotated[int, typer.Option(min=1, help="Backlog (documents)")] = 1_000_000,
    drain_seconds: Annotated[float, typer.Option(min=0)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Redis memory while a large backlog is stored and drains (the window, not the backlog,
    lives in Redis)."""
    with bench_environment(as_json) as environment:
        run = backlog_bench.run(environment, n, drain_seconds)
        figures = {
            "backlog": run.backlog,
            "redis_before_mb": run.redis_before_mb,
            "redis_peak_mb": run.redis_peak_mb,
        }
        if as_json:
            print(json.dumps(figures))
        else:
            environment.console.print(
                f"backlog {n:,}: Redis used_memory {run.redis_before_mb} MB before, "
                f"{run.redis_peak_mb} MB at peak"
            )


@bench.command()
def cache(
    iterations: Annotated[int, typer.Option(min=1, help="Resolutions per level")] = 2000,
    as_json: JsonFlag = False,
) -> None:
    """Median time to resolve a posting matrix: from Postgres (the baseline: what a naive
    worker does per document), from Redis (a process that has not seen it), in process."""
    with bench_environment(as_json) as environment:
        figures = cache_bench.run(environment, iterations).figures()
        if as_json:
            print(json.dumps(figures))
            return
        table = Table(title=f"posting matrix resolution ({figures['rules']} rules), median")
        for column in ("level", "µs", "x faster than Postgres"):
            table.add_column(column)
        table.add_row("Postgres (no cache)", str(figures["postgres_us"]), "1")
        table.add_row("Redis", str(figures["redis_us"]), str(figures["redis_speedup"]))
        table.add_row(
            "in process (LRU)", str(figures["in_process_us"]), str(figures["in_process_speedup"])
        )
        environment.console.print(table)


@bench.command()
def throughput(
    n: Annotated[int, typer.Option(min=ORGS, help="Documents our normal lane posts")] = 200_000,
    naive_n: Annotated[
        int, typer.Option(min=ORGS, help="Documents the naive baseline posts (it is slow)")
    ] = 20_000,
    timeout: Annotated[float, typer.Option(help="Give up a run after this many seconds")] = 1800,
    ceiling_seconds: Annotated[
        float, typer.Option(min=0.1, help="How long the SQL-only ceiling re-posts (2 clients)")
    ] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Sustained posting rate and CPU per document of the normal lane, against a naive
    baseline (one task and one transaction per document, no cache) and the SQL-only ceiling
    (the same write set in plain SQL, 2 clients), in one invocation."""
    with bench_environment(as_json) as environment:
        ours = throughput_bench.run(environment, "ours", n, timeout)
        naive = throughput_bench.run(environment, "naive", naive_n, timeout)
        environment.say(f"SQL-only ceiling: re-posting for {ceiling_seconds:g} s")
        ceiling = ceiling_bench.run(runtime.database_url(), n, ceiling_seconds)
        figures = {
            "n": n,
            "naive_n": naive_n,
            "ours_docs_per_s": round(ours.docs_per_s),
            "naive_docs_per_s": round(naive.docs_per_s),
            "ratio": round(ours.docs_per_s / naive.docs_per_s, 1),
            "ours_cpu_ms_per_doc": round(ours.cpu_ms_per_doc, 2),
            "naive_cpu_ms_per_doc": round(naive.cpu_ms_per_doc, 2),
            "ceiling_docs_per_s": round(ceiling.docs_per_s),
            "ceiling_cpu_ms_per_doc": round(ceiling.cpu_ms_per_doc, 3),
            "ratio_to_ceiling": round(ours.docs_per_s / ceiling.docs_per_s, 3),
        }
        if as_json:
            print(json.dumps(figures))
            return
        table = Table(title="normal-lane throughput (whole-machine CPU)")
        for column in ("mode", "documents", "seconds", "documents/s", "CPU ms/document"):
            table.add_column(column)
        for run in (ours, naive, ceiling):
            table.add_row(
                run.mode,
                f"{run.documents:,}",
                f"{run.seconds:.1f}",
                f"{run.docs_per_s:,.0f}",
                f"{run.cpu_ms_per_doc:.2f}",
            )
        environment.console.print(table)
        environment.console.print(f"ours / naive: {figures['ratio']}x")
        environment.console.print(f"ours / SQL-only ceiling: {figures['ratio_to_ceiling']:.1%}")


@bench.command("recreate-all")
def recreate_all(
    n: Annotated[int, typer.Option(min=1, help="Documents of the organization")] = 700_000,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run an interruption left")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 3600,
    as_json: JsonFlag = False,
) -> None:
    """Recreate every document of one organization (posted once before) and time it until
    the last is posted again. Ctrl-C or a killed worker loses nothing: --resume goes on
    without redoing what was posted."""
    with bench_environment(as_json, fresh=not resume) as environment:
        run = recreate_all_bench.run(environment, n, resume, timeout)
        figures = {
            "n": run.documents,
            "resumed": run.resumed,
            "requested": run.requested,
            "seconds": round(run.seconds, 1),
            # A resumed run timed only what was left: no rate.
            "docs_per_s": None if run.resumed else round(run.docs_per_s),
        }
        if as_json:
            print(json.dumps(figures))
            return
        rate = "" if run.resumed else f", {run.docs_per_s:,.0f} documents/s"
        what = "the rest of an interrupted recreate" if run.resumed else "recreate"
        environment.console.print(
            f"{what} of {run.documents:,} documents: {run.seconds:.1f} s{rate}"
        )


for scenario in (
    scale_cli.scrape,
    scale_cli.scaleout,
    scale_cli.soak,
    scale_cli.connections,
    scale_cli.sse,
):
    bench.command()(scenario)
