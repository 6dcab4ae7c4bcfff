"""Pushed progress against polling: many clients follow jobs through `accounting serve` while
documents are posted; the delay from each posting's commit to a client knowing it.

Both modes follow the same kind of timeline: rounds in which one document of every job is
posted (the commit time of each job's k-th posting is noted), then told to the jobs as a worker
would. ``push``: every client holds a Server-Sent Events stream. ``poll``: every client asks
``GET /v1/jobs/{id}`` every few seconds, as the status pages of today do."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from accounting import runtime
from accounting.domain.events import Event
from accounting.embedded import free_port
from accounting.services import posting, tokens
from accounting.services.documents import upsert_documents
from accounting.store.uow import UnitOfWork
from accounting.volatile.keys import SSE_CLIENT_NAME as CLIENT_NAME
from tasks.tools.bench.harness import Bench, percentile, wait_until

POLL_SECONDS = 3.0


@dataclass
class SseRun:
    mode: str
    clients: int
    #: Milliseconds from a posting's commit to a client knowing it, over every client.
    delays_ms: list[float] = field(default_factory=list)
    lost_events: int = 0
    connect_seconds: float = 0.0
    #: The most Redis connections the server's followers held at once (named by the hub).
    peak_redis_connections: int = 0
    server_workers: int = 1

    def figures(self) -> dict[str, float | int]:
        ordered = self.delays_ms or [0.0]
        return {
            "clients": self.clients,
            "p50_ms": round(percentile(ordered, 50), 1),
            "p99_ms": round(percentile(ordered, 99), 1),
            "max_ms": round(max(ordered), 1),
            "lost_events": self.lost_events,
            "deliveries": len(self.delays_ms),
            "peak_redis_connections": self.peak_redis_connections,
            "redis_connections_per_server_process": round(
                self.peak_redis_connections / self.server_workers, 1
            ),
        }


class Timeline:
    """Jobs of ``documents`` documents each; posts one of each per round and notes when."""

    def __init__(self, bench: Bench, jobs: int, documents: int, label: str) -> None:
        self.org = bench.new_org(f"sse-{label}")
        self.jobs = [f"{self.org}-job-{n}" for n in range(jobs)]
        self.documents = documents
        self.committed: dict[tuple[str, int], float] = {}
        for job in self.jobs:
            batch = [_invoice(f"{job}-{k}") for k in range(documents)]
            upsert_documents(
                runtime.unit_of_work(), self.org, batch, max_documents=len(batch), job_id=job
            )
        self.token = tokens.create_token(runtime.unit_of_work(), self.org)

    def play(self, spacing: float) -> None:
        effects = runtime.effects()
        for k in range(1, self.documents + 1):
            for job in self.jobs:

                def committed(events: Sequence[Event], key: tuple[str, int] = (job, k)) -> None:
                    self.committed[key] = time.monotonic()  # then told, as a worker tells it
                    effects(events)

                uow = UnitOfWork(runtime.engine(), committed)
                posting.post_documents(uow, self.org, {f"{job}-{k - 1}": 1})
            time.sleep(spacing)


def _invoice(doc_id: str) -> dict[str, object]:
    return {
        "id": doc_id,
        "type": "invoice",
        "date": "2026-03-02",
        "currency": "EUR",
        "lines": [{"group": "products", "quantity": "1", "unit_price": "10.00"}],
    }


class Server:
    """``accounting serve`` for the bench: its clients all hold one token, so the streams a
    token may hold at once are raised to the clients of the run."""

    def __init__(self, log_dir: Path, workers: int, clients: int) -> None:
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tasks.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(workers),
                ],
                env={**os.environ, "ACCOUNTING_SSE_STREAMS_PER_TOKEN": str(clients)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._answers, 60, "the HTTP service to answer", interval=0.2)

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def run(
    bench: Bench,
    mode: str,
    clients: int,
    jobs: int,
    documents: int,
    spacing: float,
    server_workers: int,
) -> SseRun:
    timeline = Timeline(bench, jobs, documents, mode)
    server = Server(bench.log_dir, server_workers, clients)
    try:
        return asyncio.run(_clients(mode, server, timeline, clients, spacing))
    finally:
        server.stop()


async def _clients(
    mode: str, server: Server, timeline: Timeline, clients: int, spacing: float
) -> SseRun:
    result = SseRun(mode, clients, server_workers=server.workers)
    sampling = asyncio.create_task(_sample_connections(result))
    assigned = [timeline.jobs[n % len(timeline.jobs)] for n in range(clients)]
    connected = asyncio.Semaphore(0)
    started = time.monotonic()
    follow = _push if mode == "push" else _poll
    tasks = [
        asyncio.create_task(follow(server, timeline, job, result, connected)) for job in assigned
    ]
    for _ in range(clients):
        # Each stream is authenticated and its job looked up: 10,000 take a while to open.
        await asyncio.wait_for(connected.acquire(), timeout=max(120, clients / 20))
    result.connect_seconds = time.monotonic() - started
    await asyncio.to_thread(timeline.play, spacing)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=300)
    sampling.cancel()
    return result


async def _sample_connections(result: SseRun) -> None:
    """Every tenth of a second: the Redis connections the SSE hubs of the server hold."""
    client = runtime.redis_client()

    def hub_connections() -> int:
        return sum(1 for c in client.client_list() if c.get("name") == CLIENT_NAME)

    while True:
        result.peak_redis_connections = max(
            result.peak_redis_connections, await asyncio.to_thread(hub_connections)
        )
        await asyncio.sleep(0.1)


async def _push(
    server: Server, timeline: Timeline, job: str, result: SseRun, connected: asyncio.Semaphore
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, limit=2**20)
    writer.write(
        f"GET /v1/jobs/{job}/events HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {timeline.token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"bench sse: {status!r} for job {job}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    seen: set[int] = set()
    buffer = ""
    announced = False
    while True:
        size = int((await reader.readline()).strip() or b"0", 16)
        if size == 0:
            break
        buffer += (await reader.readexactly(size)).decode()
        await reader.readexactly(2)
        *blocks, buffer = buffer.split("\n\n")
        for block in blocks:
            if not announced:  # the server's first frame: the stream is open
                announced = True
                connected.release()
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if fields.get("event") == "progress":
                posted = json.loads(fields["data"])["posted"]
                result.delays_ms.append(
                    (time.monotonic() - timeline.committed[(job, posted)]) * 1000
                )
                seen.add(posted)
            if fields.get("event") == "done":
                result.lost_events += timeline.documents - len(seen)
                writer.close()
                return
    result.lost_events += timeline.documents - len(seen)


async def _poll(
    server: Server, timeline: Timeline, job: str, result: SseRun, connected: asyncio.Semaphore
) -> None:
    headers = {"Authorization": f"Bearer {timeline.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client:
        await asyncio.sleep(random.uniform(0, POLL_SECONDS))  # clients do not poll in step
        known = 0
        connected.release()
        while known < timeline.documents:
            view = (await client.get(f"/v1/jobs/{job}")).json()
            now = time.monotonic()
            for k in range(known + 1, view["posted"] + 1):
                result.delays_ms.append((now - timeline.committed[(job, k)]) * 1000)
            known = max(known, view["posted"])
            if known < timeline.documents:
                await asyncio.sleep(POLL_SECONDS)
