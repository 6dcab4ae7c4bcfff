"""``accounting recreate`` and ``accounting import``: send the work to the workers as an
application would, then follow its jobs' progress events with a progress bar."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from accounting import runtime
from accounting.config import get_settings
from accounting.errors import UnreadableFile
from accounting.services import jobs
from accounting.volatile.progress import ProgressStream
from tasks.cli.common import Org, console
from tasks.cli.files import parse_json

Wait = Annotated[
    float, typer.Option(min=1, help="Give up following after this many seconds (work goes on)")
]


@dataclass
class Followed:
    """What the events of some jobs said."""

    total: int = 0
    posted: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)


def recreate(
    org: Org,
    documents: Annotated[list[str], typer.Argument(help="Document ids")],
    requested_by: Annotated[str | None, typer.Option(help="Who asks (shown in the logs)")] = None,
    wait: Wait = 600,
) -> None:
    """Recreate documents' entries on the high lane and follow the job until it is done;
    exit 1 if a document could not be posted."""
    from tasks.documents import recreate as recreate_task

    job = recreate_task.delay(org, documents, requested_by)
    console.print(f"job {job.id}")
    rejected = job.get(timeout=wait)["rejected"]
    for rejection in rejected:
        console.print(f"[red]rejected[/] {rejection['document_id']}: {rejection['message']}")
    followed = _follow([job.id], wait)
    _report(followed, failed_before=len(rejected))


def cancel(
    org: Org,
    job: Annotated[str, typer.Argument(help="The job id (a recreate's)")],
) -> None:
    """Cancel what a recreate has not started; documents being posted finish."""
    taken_back, progress = jobs.cancel_job(runtime.unit_of_work(), org, job)
    console.print(
        f"job {job}: {taken_back} documents taken back; {progress.posted} of {progress.total} "
        f"posted, {progress.pending} still to post"
    )


def import_documents(
    org: Org,
    file: Annotated[Path, typer.Argument(help="One JSON document per line", exists=True)],
    chunk: Annotated[int, typer.Option(min=1, max=5000, help="Documents per call")] = 500,
    wait: Wait = 3600,
) -> None:
    """Send a JSON Lines file of documents with `upsert_documents`, one call per chunk, and
    follow the jobs until every stored document is posted. Lines that are not JSON objects are
    reported with their number and not sent; exit 1 on any rejected or failed document."""
    from tasks.documents import upsert_documents

    bad_lines, chunks = _read_chunks(file, chunk)
    for number, problem in bad_lines:
        console.print(f"[red]line {number}:[/] {problem}")
    calls = [upsert_documents.delay(org, documents) for documents in chunks]
    rejected = 0
    for call in calls:
        reply = call.get(timeout=wait)
        for rejection in reply["rejected"]:
            rejected += 1
            console.print(
                f"[red]rejected[/] {rejection['document_id']}: "
                f"{rejection['field']}: {rejection['message']}"
            )
    followed = _follow([call.id for call in calls], wait)
    _report(followed, failed_before=len(bad_lines) + rejected)


def _read_chunks(file: Path, size: int) -> tuple[list[tuple[int, str]], list[list[Any]]]:
    bad: list[tuple[int, str]] = []
    chunks: list[list[Any]] = [[]]
    with file.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                document = parse_json(line, f"line {number}")
            except UnreadableFile as exc:
                bad.append((number, str(exc).removeprefix(f"line {number}: ")))
                continue
            if not isinstance(document, dict):
                bad.append((number, "not a JSON object"))
                continue
            if len(chunks[-1]) == size:
                chunks.append([])
            chunks[-1].append(document)
    return bad, [c for c in chunks if c]


def _follow(job_ids: list[str], wait: float) -> Followed:
    stream = ProgressStream(runtime.redis_client(), get_settings().progress_retention_seconds)
    cursors = dict.fromkeys(job_ids, "0")
    followed = Followed()
    totals: dict[str, int] = {}
    deadline = time.monotonic() + wait
    with _bar() as bar:
        task = bar.add_task("posting", total=None)
        while len(followed.done) < len(job_ids) and time.monotonic() < deadline:
            for job_id, event in stream.follow(cursors, block_ms=1000):
                if event.type == "accepted":
                    totals[job_id] = event.data["total"]
                elif event.type == "progress":
                    followed.posted[job_id] = event.data["posted"]
                elif event.type == "failed":
                    followed.failed[event.data["document_id"]] = event.data["reason"]
                elif event.type == "done":
                    followed.done.add(job_id)
                    followed.posted[job_id] = event.data["posted"]
            followed.total = sum(totals.values())
            bar.update(task, total=followed.total, completed=sum(followed.posted.values()))
    if len(followed.done) < len(job_ids):
        console.print(f"[yellow]still working after {wait:.0f} s; the workers go on[/]")
    return followed


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _report(followed: Followed, failed_before: int = 0) -> None:
    for document_id, reason in followed.failed.items():
        console.print(f"[red]failed[/] {document_id}: {reason}")
    console.print(
        f"{sum(followed.posted.values()):,} of {followed.total:,} posted, "
        f"{len(followed.failed):,} failed"
    )
    if followed.failed or failed_before:
        raise typer.Exit(1)
