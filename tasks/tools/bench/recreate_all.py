"""Recreate-all: every document of one large organization recreated and posted again, with a
progress bar, resumable after an interruption."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

from rich.progress import Progress

from accounting import runtime
from accounting.services.documents import release_documents
from accounting.services.queue import pending_count, status
from accounting.services.recreate import recreate_all, start_recreate_all
from tasks.tools.bench.harness import Bench, wait_until

STATE_FILE = "recreate-all.json"


@dataclass(frozen=True)
class RecreateAllRun:
    documents: int
    resumed: bool
    requested: int
    seconds: float

    @property
    def docs_per_s(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


def run(bench: Bench, documents: int, resume: bool, timeout: float) -> RecreateAllRun:
    """Load and post ``documents`` for a new organization, then recreate all of them and time
    it from the request to the last document posted at its new version. With ``resume``,
    continue the request an interrupted run left (its state is in the bench data folder)."""
    state_path = bench.data_dir / STATE_FILE
    state = _read_state(state_path) if resume else None
    with bench.workers("ours"), bench.progress() as progress:
        if state is None:
            org = bench.new_org("recreate-all")
            bench.load(org, documents, f"{org}-doc", progress)
            _drain(bench, org, documents, timeout, "initial posting", progress)
            since = start_recreate_all(runtime.unit_of_work(), org)
            _write_state(state_path, org, since, documents)
        else:
            org, since, documents = state
            # The interrupted run's workers are gone: what they had claimed is free now.
            release_documents(runtime.unit_of_work(), org, None)
        started = time.monotonic()
        asked = progress.add_task("recreate requested", total=documents)

        def requested(count: int) -> None:
            progress.advance(asked, count)

        count = recreate_all(runtime.units(), org, since, on_chunk=requested)
        _drain(bench, org, documents, timeout, "recreated and posted", progress)
        seconds = time.monotonic() - started
    state_path.unlink(missing_ok=True)
    return RecreateAllRun(documents, state is not None, count, seconds)


def _drain(
    bench: Bench, org: str, documents: int, timeout: float, what: str, progress: Progress
) -> None:
    task = progress.add_task(what, total=documents)

    def drained() -> bool:
        pending = pending_count(runtime.unit_of_work(), [org])
        progress.update(task, completed=documents - pending)
        return pending == 0

    wait_until(drained, timeout, what, interval=0.5)
    dead = status(runtime.unit_of_work(), org)["dead"]
    if dead:
        raise RuntimeError(f"{dead} documents of {org} could not be posted")


def _read_state(path: Path) -> tuple[str, dt.datetime, int] | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return data["org"], dt.datetime.fromisoformat(data["since"]), int(data["documents"])


def _write_state(path: Path, org: str, since: dt.datetime, documents: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"org": org, "since": since.isoformat(), "documents": documents}
    path.write_text(json.dumps(payload))
