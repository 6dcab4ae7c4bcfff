"""What every bench scenario needs: services, fresh organizations, workers per mode, loading."""

from __future__ import annotations

import os
import shutil
import time
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from accounting import demo_data, embedded, runtime
from accounting.config import get_settings
from accounting.services import schema
from accounting.services.documents import upsert_documents
from accounting.services.queue import abandon_pending, set_paused

#: The modes a scenario compares: ours, and the same code as one FIFO queue without lanes.
MODES: dict[str, dict[str, str]] = {
    "fifo": {"ACCOUNTING_SCHEDULING": "fifo", "ACCOUNTING_FAST_PATH_MAX_DOCUMENTS": "0"},
    "ours": {},
}
LOAD_CHUNK = 5000


@dataclass
class Bench:
    console: Console
    quiet: bool
    log_dir: Path
    data_dir: Path

    def progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            disable=self.quiet,
            transient=True,
        )

    def say(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message)

    def new_org(self, label: str) -> str:
        org_id = f"bench-{label}-{uuid.uuid4().hex[:6]}"
        demo_data.seed_organization(runtime.units(), org_id)
        return org_id

    def load(self, org_id: str, count: int, prefix: str, progress: Progress | None = None) -> float:
        """Store ``count`` documents by calling the service directly (no Celery task), wake the
        dispatcher, and return the time the last chunk committed."""
        task = progress.add_task(f"load {count:,} documents", total=count) if progress else None
        documents = demo_data.documents(count, prefix=prefix, seed=zlib.crc32(prefix.encode()))
        chunk: list[dict[str, Any]] = []
        for document in documents:
            chunk.append(document)
            if len(chunk) == LOAD_CHUNK:
                self._store(org_id, chunk, progress, task)
                chunk = []
        if chunk:
            self._store(org_id, chunk, progress, task)
        return time.monotonic()

    def _store(
        self, org_id: str, chunk: list[dict[str, Any]], progress: Progress | None, task: Any
    ) -> None:
        upsert_documents(runtime.unit_of_work(), org_id, chunk, max_documents=len(chunk))
        if progress is not None:
            progress.advance(task, len(chunk))

    @contextmanager
    def workers(
        self, mode: str, normal: int = 2, high: int = 1, settings: Mapping[str, str] = MODES["ours"]
    ) -> Iterator[None]:
        """A high and a normal pool with ``mode``'s settings (or, for a mode that is not one of
        :data:`MODES`, the given ``settings``)."""
        from tasks.app import app
        from tasks.tools.worker_pool import worker_pool

        env = {
            "ACCOUNTING_DATABASE_URL": runtime.database_url(),
            "ACCOUNTING_REDIS_URL": runtime.redis_url(),
            **MODES.get(mode, settings),
        }
        with worker_pool(app, env, self.log_dir) as pool:
            pool.start("accounting.high", concurrency=high)
            pool.start("accounting.normal", concurrency=normal)
            pool.wait_ready()
            yield

    @contextmanager
    def held(self, org_id: str) -> Iterator[None]:
        """Pause the organization while the block runs, then resume and wake the dispatcher."""
        set_paused(runtime.unit_of_work(), org_id, True)
        try:
            yield
        finally:
            set_paused(runtime.unit_of_work(), org_id, False)

    @contextmanager
    def abandoning(self, org_ids: Sequence[str]) -> Iterator[None]:
        """Leave nothing pending for the next run, even an interrupted one: what a run did
        not drain is abandoned (dead, with the reason "bench run ended")."""
        try:
            yield
        finally:
            for org_id in org_ids:
                abandon_pending(runtime.unit_of_work(), org_id, "bench run ended")

    def redis_used_mb(self) -> float:
        return int(runtime.redis_client().info("memory")["used_memory"]) / 2**20


@contextmanager
def bench_environment(quiet: bool, *, fresh: bool = True) -> Iterator[Bench]:
    """Embedded services in ``<data dir>/bench``, created afresh for each invocation (unless
    ``fresh`` is False: a resumed run), unless URLs are configured; migrated."""
    settings = get_settings()
    local = settings.model_copy(update={"data_dir": Path(settings.data_dir) / "bench"})
    if fresh and not settings.database_url:
        shutil.rmtree(local.data_dir / "postgres", ignore_errors=True)  # no earlier run's rows
    with embedded.services(local) as urls:
        os.environ["ACCOUNTING_DATABASE_URL"] = urls.database_url
        os.environ["ACCOUNTING_REDIS_URL"] = urls.redis_url
        get_settings.cache_clear()
        schema.upgrade(urls.database_url)
        yield Bench(Console(stderr=quiet), quiet, Path(local.data_dir) / "logs", local.data_dir)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench: {what} did not happen within {timeout:.0f} s")
        time.sleep(interval)


def env_items(mapping: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in mapping.items()) or "(defaults)"
