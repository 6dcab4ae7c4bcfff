"""``accounting demo``: a bulk sync plus user recreates on real workers, with live figures."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from accounting import demo_data, embedded, runtime
from accounting.config import Settings, get_settings
from accounting.services import books, reports, schema
from accounting.services.queue import status

if TYPE_CHECKING:
    from tasks.tools.worker_pool import WorkerPool

console = Console()
CHUNK = 500
MONTH_END = "2026-01"
STALL_SECONDS = 60.0


@dataclass(frozen=True)
class DemoResult:
    documents: int
    posted: int
    failed: int
    seconds: float
    recreate_ms: list[float]
    #: The organization's books as Beancount, for bean-check.
    export: Path | None = None

    @property
    def throughput(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


def run(
    documents: int, recreates: int, normal_concurrency: int, high_concurrency: int
) -> DemoResult:
    with embedded.services(get_settings()) as urls:
        os.environ["ACCOUNTING_DATABASE_URL"] = urls.database_url
        os.environ["ACCOUNTING_REDIS_URL"] = urls.redis_url
        get_settings.cache_clear()
        settings = get_settings()
        console.print(
            f"[bold]Postgres[/] {_redacted(urls.database_url)}  [bold]Redis[/] {urls.redis_url}"
        )
        schema.upgrade(urls.database_url)
        org_id = _seed_organization()
        result = _drive(
            settings, org_id, documents, recreates, normal_concurrency, high_concurrency
        )
        # Inside the run: the embedded services stop when it ends.
        return replace(result, export=_export_books(settings, org_id))


def _seed_organization() -> str:
    org_id = f"demo-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    version = demo_data.seed_organization(
        runtime.units(), org_id, name="Demo shop GmbH", rates=True
    )
    console.print(
        f"Organization [bold]{org_id}[/]: {len(demo_data.ACCOUNTS)} accounts, matrix v{version}"
    )
    return org_id


def _export_books(settings: Settings, org_id: str) -> Path:
    path = (Path(settings.data_dir) / "exports" / f"{org_id}.beancount").resolve()
    with reports.atomic_text_file(path) as out:
        entries = reports.export_beancount(runtime.unit_of_work(), org_id, None, out)
    console.print(f"Beancount export of {org_id} ({entries:,} entries): {path}")
    return path


def _drive(
    settings: Settings, org_id: str, count: int, recreates: int, normal_c: int, high_c: int
) -> DemoResult:
    from tasks.app import app
    from tasks.documents import recreate, upsert_documents
    from tasks.tools.worker_pool import worker_pool

    env = {
        "ACCOUNTING_DATABASE_URL": runtime.database_url(settings),
        "ACCOUNTING_REDIS_URL": runtime.redis_url(settings),
    }
    with worker_pool(app, env, Path(settings.data_dir) / "logs") as pool:
        pool.start("accounting.high", concurrency=high_c)
        pool.start("accounting.normal", concurrency=normal_c)
        with console.status("Starting a high-lane and a normal-lane worker..."):
            pool.wait_ready()
        docs = list(demo_data.documents(count, prefix=org_id, full_books=True))
        latencies: list[float] = []
        with _progress() as progress:
            submit = progress.add_task("bulk sync: submitted", total=count)
            posting = progress.add_task("bulk sync: posted", total=count)
            started = time.monotonic()
            for start in range(0, count, CHUNK):
                upsert_documents.delay(org_id, docs[start : start + CHUNK])
                progress.advance(submit, len(docs[start : start + CHUNK]))
            targets = _recreate_targets(docs, recreates)
            watchdog = _Watchdog(pool, STALL_SECONDS)
            while True:
                counts = status(runtime.unit_of_work(), org_id)
                watchdog.observe(counts["posted"] + counts["dead"])
                progress.update(posting, completed=counts["posted"] + counts["dead"])
                done = counts["documents"] == count and counts["posted"] + counts["dead"] >= count
                if targets and counts["posted"] >= _recreate_threshold(
                    count, len(latencies), recreates
                ):
                    latencies.append(_timed_recreate(recreate, org_id, targets.pop()))
                elif done and not targets:
                    break
                else:
                    time.sleep(0.1)
            elapsed = time.monotonic() - started
        _month_end(recreate, org_id, docs)
    final = status(runtime.unit_of_work(), org_id)
    return DemoResult(count, final["posted"], final["dead"], elapsed, latencies)


def _month_end(recreate: object, org_id: str, docs: list[dict[str, object]]) -> None:
    """Close January, then recreate a few January invoices: their January entries stay in
    the closed month and are reversed, with the new versions, in February."""
    change = books.close_period(runtime.unit_of_work(), org_id, MONTH_END)
    january = [
        str(d["id"])
        for d in docs
        if str(d["date"]).startswith(MONTH_END) and d["type"] == "invoice"
    ][:3]
    if not january:
        return
    result = recreate.delay(org_id, january, requested_by="demo")  # type: ignore[attr-defined]
    outcome = result.get(timeout=60)
    if sorted(outcome["posted"]) != sorted(january):
        raise RuntimeError(f"recreate after closing {MONTH_END} did not post: {outcome}")
    console.print(
        f"Closed {change.period}; recreated {len(january)} of its invoices: their January "
        "entries were reversed in the first open month"
    )


class _Watchdog:
    """Fails the demo, with the workers' logs, when nothing is posted for a while."""

    def __init__(self, pool: WorkerPool, seconds: float) -> None:
        self._pool, self._seconds = pool, seconds
        self._last, self._since = -1, time.monotonic()

    def observe(self, done: int) -> None:
        if done != self._last:
            self._last, self._since = done, time.monotonic()
        elif time.monotonic() - self._since > self._seconds:
            logs = "\n".join(f"--- {w.name}\n{w.log_tail()}" for w in self._pool.workers)
            raise RuntimeError(f"no progress for {self._seconds:.0f} s; worker logs:\n{logs}")


def _recreate_targets(docs: list[dict[str, object]], recreates: int) -> list[str]:
    """Documents of the first chunk: stored by the time the first recreate is sent."""
    return [str(d["id"]) for d in docs[:CHUNK][:recreates]]


def _recreate_threshold(count: int, sent: int, recreates: int) -> float:
    """Spread the recreates over the drain: the first at 10% posted, the last before 90%."""
    return count * (0.1 + 0.8 * sent / max(1, recreates))


def _timed_recreate(recreate: object, org_id: str, document_id: str) -> float:
    """Milliseconds from ``recreate.delay()`` returning to the job reporting its entries
    committed, while the bulk sync keeps the normal lane busy."""
    result = recreate.delay(org_id, [document_id], requested_by="demo")  # type: ignore[attr-defined]
    started = time.monotonic()
    outcome = result.get(timeout=60)
    elapsed = (time.monotonic() - started) * 1000
    if document_id not in outcome["posted"]:
        raise RuntimeError(f"recreate of {document_id} did not post inline: {outcome}")
    return elapsed


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _redacted(url: str) -> str:
    return url.split("@")[-1]


def report(result: DemoResult) -> None:
    table = Table(title="accounting-impact demo", show_header=False)
    table.add_row("documents", f"{result.documents:,}")
    table.add_row("posted", f"{result.posted:,}")
    table.add_row("dead", f"{result.failed:,}")
    table.add_row("elapsed", f"{result.seconds:.1f} s")
    table.add_row("throughput", f"{result.throughput:,.0f} documents/s")
    if result.recreate_ms:
        table.add_row(
            "recreate latency",
            f"median {statistics.median(result.recreate_ms):.0f} ms, "
            f"max {max(result.recreate_ms):.0f} ms over {len(result.recreate_ms)} recreates "
            "(delay() returned -> entries committed)",
        )
    if result.export:
        table.add_row("beancount export", str(result.export))
    console.print(table)


def demo(
    documents: Annotated[int, typer.Option(min=1, help="Documents in the bulk sync")] = 3000,
    recreates: Annotated[int, typer.Option(min=0, help="User recreates during the sync")] = 5,
    normal_concurrency: Annotated[int, typer.Option(min=1)] = 2,
    high_concurrency: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Start embedded Postgres and Redis if no URLs are set, migrate, seed a demo organization,
    run a high and a normal worker, sync DOCUMENTS documents plus user recreates, and report."""
    result = run(documents, recreates, normal_concurrency, high_concurrency)
    report(result)
    if result.posted != result.documents:
        console.print(f"[red]{result.documents - result.posted} documents not posted[/]")
        raise typer.Exit(1)
