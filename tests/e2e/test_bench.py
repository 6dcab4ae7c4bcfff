"""The bench scenarios run end to end at a tiny size and report well-formed figures.

They measure speed; these tests only check that each scenario runs its baseline too, drains
what it started and prints the figures it promises (no timing is asserted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from helpers import count, unbalanced_entries

pytestmark = pytest.mark.timeout(300)


def bench(*args: str) -> list[dict[str, Any]]:
    completed = subprocess.run(
        [sys.executable, "-m", "tasks.cli", "bench", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=280,
        env=os.environ.copy(),
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]


def test_bench_priority_reports_latency_for_ours_and_the_fifo_baseline(engine: Any) -> None:
    (figures,) = bench("priority", "--backlog", "300", "--recreates", "3", "--spacing", "0.05")
    assert figures["backlog"] == 300
    for mode in ("ours", "fifo"):
        assert 0 < figures[mode]["p50_ms"] <= figures[mode]["p99_ms"] <= figures[mode]["max_ms"]
    assert figures["redis_peak_mb"] >= figures["redis_before_mb"] > 0
    pending = count(
        engine,
        "SELECT count(*) FROM documents WHERE ready_version > posted_version"
        " AND ready_version > failed_version",
    )
    assert pending == 0  # each run leaves nothing behind for the next


def test_bench_fairness_reports_each_run_size_for_ours_and_the_fifo_baseline(engine: Any) -> None:
    runs = bench("fairness", "--n", "300", "--n", "500")
    assert [run["n"] for run in runs] == [300, 500]
    for run in runs:
        assert run["ours"]["max_small_org_s"] > 0 and run["fifo"]["max_small_org_s"] > 0


def test_bench_backlog_reports_redis_memory(engine: Any) -> None:
    (figures,) = bench("backlog", "--n", "500", "--drain-seconds", "1")
    assert figures["backlog"] == 500
    assert figures["redis_peak_mb"] >= figures["redis_before_mb"] > 0


def test_bench_throughput_posts_every_document_in_both_modes_and_reports_the_ratio(
    engine: Any,
) -> None:
    (figures,) = bench("throughput", "--n", "400", "--naive-n", "40", "--ceiling-seconds", "1")
    assert (figures["n"], figures["naive_n"]) == (400, 40)
    assert figures["ceiling_docs_per_s"] > 0 and figures["ceiling_cpu_ms_per_doc"] > 0
    assert figures["ratio_to_ceiling"] == pytest.approx(
        figures["ours_docs_per_s"] / figures["ceiling_docs_per_s"], rel=0.05, abs=0.002
    )
    assert figures["ours_docs_per_s"] > 0 and figures["naive_docs_per_s"] > 0
    assert figures["ratio"] == pytest.approx(
        figures["ours_docs_per_s"] / figures["naive_docs_per_s"], rel=0.05
    )
    assert figures["ours_cpu_ms_per_doc"] > 0 and figures["naive_cpu_ms_per_doc"] > 0
    for mode, expected in (("ours", 400), ("naive", 40)):
        posted = count(
            engine,
            "SELECT count(*) FROM documents WHERE org_id LIKE :pattern"
            " AND posted_version = ready_version AND posted_version = 1",
            pattern=f"bench-{mode}-%",
        )
        assert posted == expected
    assert unbalanced_entries(engine) == 0
    assert (
        count(engine, "SELECT count(*) FROM pg_namespace WHERE nspname = 'bench_ceiling'") == 0
    )  # the ceiling's scratch tables are gone


def test_bench_cache_reports_each_level(engine: Any) -> None:
    (figures,) = bench("cache", "--iterations", "50")
    assert figures["iterations"] == 50 and figures["rules"] > 0
    assert min(figures["postgres_us"], figures["redis_us"], figures["in_process_us"]) > 0
    assert figures["redis_speedup"] == pytest.approx(
        figures["postgres_us"] / figures["redis_us"], rel=0.05
    )


def test_bench_connections_counts_the_server_connections_of_its_workers(engine: Any) -> None:
    (figures,) = bench("connections", "--workers", "8", "--seconds", "1")
    assert figures["workers"] == 8 and figures["transactions"] > 0
    # Direct, each worker holds one; through PgBouncer (CI), at most its pool size.
    assert 1 <= figures["peak_server_connections"] <= 8
    assert figures["baseline_peak_server_connections"] is None


def test_bench_recreate_all_posts_every_document_again_once(engine: Any) -> None:
    (figures,) = bench("recreate-all", "--n", "300")
    assert (figures["n"], figures["requested"], figures["resumed"]) == (300, 300, False)
    assert figures["seconds"] > 0 and figures["docs_per_s"] > 0
    versions = count(
        engine,
        "SELECT count(*) FROM documents WHERE org_id LIKE 'bench-recreate-all-%'"
        " AND ready_version = 2 AND posted_version = 2",
    )
    assert versions == 300
    assert unbalanced_entries(engine) == 0


def test_bench_sse_delivers_every_event_pushed_and_polled(engine: Any) -> None:
    (figures,) = bench("sse", "--clients", "120", "--jobs", "4", "--documents", "3")
    assert (figures["clients"], figures["lost_events"], figures["deliveries"]) == (120, 0, 360)
    poll = figures["baseline_poll"]
    assert (poll["lost_events"], poll["deliveries"]) == (0, 360)
    assert 1 <= figures["redis_connections_per_server_process"] <= 4
    assert figures["p99_ms"] > 0 and poll["p99_ms"] > 0


def test_bench_flood_reports_the_victims_latency_quiet_and_flooded(engine: Any) -> None:
    (figures,) = bench(
        "flood",
        "--flood-documents",
        "400",
        "--per-request",
        "200",
        "--recreates",
        "3",
        "--spacing",
        "0.05",
    )
    for label in ("quiet", "flood"):
        run = figures[label]
        assert 0 < run["p50_ms"] <= run["p99_ms"] <= run["max_ms"]
    assert figures["quiet"]["flood_requests"] == 0
    assert figures["flood"]["flood_requests"] == 2
    pending = count(
        engine,
        "SELECT count(*) FROM documents WHERE ready_version > posted_version"
        " AND ready_version > failed_version",
    )
    assert pending == 0


def test_bench_scrape_times_ours_and_the_full_count_at_each_step(engine: Any) -> None:
    (figures,) = bench("scrape", "--documents", "30000", "--scrapes", "10")
    assert [step["documents"] for step in figures["steps"]] == [10_000, 30_000]
    for step in figures["steps"]:
        assert 0 < step["ours_p50_ms"] <= step["ours_p99_ms"]
        assert 0 < step["baseline_p50_ms"] <= step["baseline_p99_ms"]


def test_bench_scaleout_posts_every_step_in_both_windows_through_the_proxy(engine: Any) -> None:
    (figures,) = bench("scaleout", "--steps", "1,2", "--documents", "300", "--timeout", "200")
    steps = {(s["mode"], s["workers"]): s for s in figures["steps"]}
    assert set(steps) == {("ours", 1), ("fixed", 1), ("ours", 2), ("fixed", 2)}
    assert all(s["documents"] == 300 and s["docs_per_s"] > 0 for s in steps.values())
    assert figures["delay_ms"] == 1.0


def test_bench_soak_samples_throughput_and_table_sizes(engine: Any) -> None:
    (figures,) = bench(
        "soak", "--minutes", "0.25", "--sample-seconds", "3", "--rate", "50", "--population", "300"
    )
    assert len(figures["samples"]) >= 4
    assert figures["first_tenth_docs_per_s"] > 0 and figures["last_tenth_docs_per_s"] > 0
    assert set(figures["size_growth"]) >= {"documents", "journal_entries", "journal_lines"}
    assert all(sample["tables"]["documents"][0] > 0 for sample in figures["samples"])
