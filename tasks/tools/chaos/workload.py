"""The chaos workload: documents sent the way the README tells an application to send them,
through the client (accounting_impact_client), with no resend loop of its own; updates of sent
documents and user recreates racing the sync. It remembers the last content the client
reported accepted of every document: what must end posted."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from accounting import demo_data, runtime
from accounting_impact_client import AccountingClient, NotAccepted
from accounting_impact_client.documents import validate_documents

CHUNK = 250
#: Chunks waiting for their acknowledgement at once.
IN_FLIGHT = 4
#: How long the application gives the client to report a chunk accepted (stored).
ACCEPT_TIMEOUT_SECONDS = 600.0
#: How long a user's recreate may take to be taken in.
RECREATE_TIMEOUT_SECONDS = 60.0
UPDATE_CHUNK = 20


class WorkloadError(RuntimeError):
    """The workload itself is wrong (a document was rejected): the run proves nothing."""


@dataclass
class Counters:
    sent_chunks: int = 0
    #: Chunks the client sent more than once (the same task id) before it had a confirmation.
    resent_chunks: int = 0
    #: Chunks the client reported not accepted within ACCEPT_TIMEOUT_SECONDS.
    not_accepted_chunks: int = 0
    acknowledged: int = 0
    updates: int = 0
    recreates_sent: int = 0
    recreates_failed: int = 0


@dataclass
class Workload:
    orgs: Sequence[str]
    documents: int
    seed: int
    #: Documents per second to send at most (0: as fast as they are acknowledged).
    rate: float
    #: Share of the documents updated while the sync runs.
    update_share: float
    recreate_every: float
    stop: threading.Event = field(default_factory=threading.Event)
    counters: Counters = field(default_factory=Counters)
    #: (org, id) -> the last content a worker acknowledged.
    expected: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    loaded: threading.Event = field(default_factory=threading.Event)
    updated: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _acknowledged: dict[str, list[str]] = field(default_factory=dict)
    #: (org, id) -> the revision before the last acknowledged one, of updated documents.
    _superseded: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._acknowledged = {org: [] for org in self.orgs}
        self._rng = random.Random(self.seed)
        self._client = AccountingClient(runtime.redis_url())

    # -- the initial sync --------------------------------------------------------------------

    def load(self) -> None:
        """Send every document in chunks, a few chunks in flight, paced to ``rate``."""
        started = time.monotonic()
        slots = threading.Semaphore(IN_FLIGHT)

        def send(org: str, chunk: list[dict[str, Any]]) -> None:
            try:
                self._send(org, chunk)
            finally:
                slots.release()

        with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="chaos-load") as senders:
            futures = []
            for n, (org, chunk) in enumerate(self._chunks()):
                if self.rate:
                    self.stop.wait(max(0.0, started + n * CHUNK / self.rate - time.monotonic()))
                slots.acquire()
                if self.stop.is_set():
                    break
                futures.append(senders.submit(send, org, chunk))
            for future in futures:
                future.result()  # a WorkloadError ends the run
        self.loaded.set()

    def _chunks(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        share = -(-self.documents // len(self.orgs))
        streams = [
            (
                org,
                demo_data.documents(
                    min(share, self.documents - n * share),
                    prefix=org,
                    seed=zlib.crc32(org.encode()) ^ self.seed,
                ),
            )
            for n, org in enumerate(self.orgs)
        ]
        while streams:
            for org, stream in list(streams):
                chunk = [d | {"revision": 1} for _, d in zip(range(CHUNK), stream, strict=False)]
                if chunk:
                    yield org, chunk
                else:
                    streams.remove((org, stream))

    def _send(self, org: str, documents: list[dict[str, Any]]) -> None:
        """``AccountingClient.sync_documents``: accepted once the client says so, never
        before. What it does not report accepted is not expected."""
        _check(org, documents)
        with self._lock:
            self.counters.sent_chunks += 1
        try:
            result = self._client.sync_documents(org, documents, timeout=ACCEPT_TIMEOUT_SECONDS)
        except NotAccepted:
            with self._lock:
                self.counters.not_accepted_chunks += 1
            return
        if result.rejected:
            raise WorkloadError(f"{org}: the workload made bad documents: {result.rejected[:3]}")
        with self._lock:
            self.counters.resent_chunks += result.job.sends > 1
            for document in documents:
                key = (org, document["id"])
                if key not in self.expected:
                    self._acknowledged[org].append(document["id"])
                    self.counters.acknowledged += 1
                self.expected[key] = document
                if document["revision"] > 1:
                    self._superseded[key] = {**document, **_a_day_earlier(document)}

    # -- racing the sync ---------------------------------------------------------------------

    def update(self) -> None:
        """Change sent documents (a day later) while the sync runs: each change is a new
        version that must end posted, and the older one must not."""
        target = int(self.documents * self.update_share)
        while not self.stop.is_set() and self.counters.updates < target:
            due = target * min(1.0, self.counters.acknowledged / self.documents)
            if self.counters.updates >= due and not self.loaded.is_set():
                self.stop.wait(0.1)
                continue
            org, ids = self._pick(UPDATE_CHUNK)
            if not ids:
                self.stop.wait(0.1)
                continue
            with self._lock:
                changed = [_a_day_later(self.expected[(org, i)]) for i in ids]
            self._send(org, changed)
            with self._lock:
                self.counters.updates += len(changed)
        self.updated.set()

    def recreate(self) -> None:
        """Users clicking "Recreate" on a few documents now and then, through the client."""
        while not self.stop.wait(self.recreate_every):
            org, ids = self._pick(self._rng.randint(1, 10))
            if not ids:
                continue
            try:
                self._client.recreate(
                    org, ids, requested_by="chaos", timeout=RECREATE_TIMEOUT_SECONDS
                )
                self.counters.recreates_sent += 1
            except Exception:  # Redis down right now, or too slow: the user clicks again
                self.counters.recreates_failed += 1

    def redeliver_stale(self) -> str | None:
        """Send an updated document's previous revision again, as Redis does with a message
        a SIGKILLed worker held once its visibility timeout ends: it must change nothing."""
        from tasks.documents import upsert_documents

        with self._lock:
            if not self._superseded:
                return None
            (org, doc_id), older = self._rng.choice(list(self._superseded.items()))
        upsert_documents.delay(org, [older])
        return f"{doc_id} at revision {older['revision']}"

    def _pick(self, count: int) -> tuple[str, list[str]]:
        with self._lock:
            org = self._rng.choice(list(self.orgs))
            known = self._acknowledged[org]
            return org, self._rng.sample(known, min(count, len(known)))


def _a_day_earlier(document: dict[str, Any]) -> dict[str, Any]:
    day = dt.date.fromisoformat(document["date"]) - dt.timedelta(days=1)
    return {"date": day.isoformat(), "revision": document["revision"] - 1}


def _check(org: str, documents: list[dict[str, Any]]) -> None:
    _, errors = validate_documents(documents)
    if errors:
        raise WorkloadError(f"{org}: the workload made bad documents: {errors[:3]}")


def _a_day_later(document: dict[str, Any]) -> dict[str, Any]:
    """The next revision of a document: dated a day later."""
    day = dt.date.fromisoformat(document["date"]) + dt.timedelta(days=1)
    return document | {"date": day.isoformat(), "revision": document["revision"] + 1}
