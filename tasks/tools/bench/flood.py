"""A tenant floods the high lane with large recreates; another tenant's one-document recreate
latency, against the same recreates with nobody flooding (the baseline), in one invocation."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from accounting import runtime
from accounting.services.queue import database_now, posted_since, status
from tasks.tools.bench.harness import Bench, percentile, wait_until
from tasks.tools.bench.priority import RedisSampler, timed_recreates


@dataclass(frozen=True)
class FloodRun:
    latencies_ms: list[float]
    flood_requests: int
    flood_posted_per_s: float

    def figures(self) -> dict[str, float]:
        return {
            "p50_ms": round(percentile(self.latencies_ms, 50), 1),
            "p99_ms": round(percentile(self.latencies_ms, 99), 1),
            "max_ms": round(max(self.latencies_ms), 1),
            "flood_requests": self.flood_requests,
            "flood_posted_per_s": round(self.flood_posted_per_s),
        }


def run(
    bench: Bench,
    flooding: bool,
    flood_documents: int,
    per_request: int,
    waves: int,
    recreates: int,
    spacing: float,
) -> FloodRun:
    """The victim's ``recreates`` one-document recreates, ``spacing`` seconds apart, from
    ``recreate.delay()`` returning to the new version committed (observed in Postgres); while,
    if ``flooding``, the flooder recreates ``per_request`` of its ``flood_documents`` documents
    per request, a request as soon as the previous one has been taken, all along."""
    from tasks.documents import recreate

    label = "flood" if flooding else "quiet"
    flooder, victim = bench.new_org(f"{label}-flooder"), bench.new_org(f"{label}-victim")
    # The high pool of docker-compose has 4 processes; two are enough to show the isolation.
    with bench.abandoning([flooder, victim]), bench.workers("ours", high=2):
        bench.load(flooder, flood_documents, f"{flooder}-doc")
        bench.load(victim, recreates, f"{victim}-doc")
        total = flood_documents + recreates
        wait_until(lambda: _posted(flooder) + _posted(victim) >= total, 300, "everything posted")
        users = [f"{victim}-doc-{n:07d}" for n in range(recreates)]
        flood = _Flood(flooder, flood_documents, per_request, waves, recreate) if flooding else None
        since, started = database_now(runtime.unit_of_work()), time.monotonic()
        with bench.progress() as progress:
            if flood is not None:
                flood.start()
            try:
                latencies = timed_recreates(
                    victim, users, recreates, spacing, recreate, RedisSampler(bench), progress
                )
            finally:
                if flood is not None:
                    flood.stop()
        elapsed = time.monotonic() - started
        flooded = posted_since(runtime.unit_of_work(), flooder, since)
    requests = flood.requests if flood is not None else 0
    return FloodRun(latencies, requests, flooded / elapsed)


class _Flood(threading.Thread):
    """The review's H5, ``waves`` times while the victim's recreates run: the flooder's
    recreates of all its documents, ``per_request`` a request, sent at once; the next wave as
    soon as these are taken in."""

    def __init__(
        self, org: str, documents: int, per_request: int, waves: int, recreate: object
    ) -> None:
        super().__init__(name="flood", daemon=True)
        self._org, self._recreate, self._waves = org, recreate, waves
        ids = [f"{org}-doc-{n:07d}" for n in range(documents)]
        self._chunks = [ids[i : i + per_request] for i in range(0, documents, per_request)]
        self._stopped = threading.Event()
        self.requests = 0

    def run(self) -> None:
        for _ in range(self._waves):
            if self._stopped.is_set():
                return
            sent = [
                self._recreate.delay(self._org, chunk, requested_by="flood")  # type: ignore[attr-defined]
                for chunk in self._chunks
            ]
            self.requests += len(sent)
            for result in sent:  # taken in: the next wave at once
                result.get(timeout=300)

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=300)


def _posted(org: str) -> int:
    return int(status(runtime.unit_of_work(), org)["posted"])
