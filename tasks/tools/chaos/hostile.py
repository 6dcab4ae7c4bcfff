"""The hostile tenant's faults of a chaos run: a flood of the high lane, a message too large to
take, and a poison message that kills its worker process on every delivery."""

from __future__ import annotations

import signal
import time
from contextlib import suppress
from dataclasses import dataclass, field

import psutil
import psycopg

from accounting import runtime
from accounting.config import get_settings
from accounting.services.documents import document_states
from accounting.services.intake import dead_messages

#: What a message over the size limit carries: one document of a 5 MB description.
OVERSIZE_BYTES = 5 * 1024 * 1024


@dataclass
class HostileTenant:
    flood_org: str
    #: An organization of its own: its message is taken off the lane, its documents never
    #: stored, so it cannot be counted against the workload's.
    poison_org: str
    direct_url: str
    #: What was sent, by kind: the task ids the verdict looks for in the dead intake.
    sent: dict[str, list[str]] = field(default_factory=dict)

    def flood(self) -> str:
        """The review's H5: every document of one organization recreated, 3,000 a request,
        sent at once."""
        from tasks.documents import recreate

        ids = [state.id for state in document_states(runtime.unit_of_work(), self.flood_org)]
        requests = [ids[i : i + 3000] for i in range(0, len(ids), 3000)]
        for chunk in requests:
            recreate.delay(self.flood_org, chunk, requested_by="chaos flood")
        return f"{len(ids)} recreates of {self.flood_org} in {len(requests)} requests"

    def oversized(self) -> str:
        from tasks.documents import upsert_documents

        document = {
            "id": f"oversize-{len(self.sent.get('oversized', []))}",
            "type": "invoice",
            "date": "2026-03-02",
            "currency": "EUR",
            "lines": [{"quantity": "1", "unit_price": "1.00", "description": "x" * OVERSIZE_BYTES}],
        }
        result = upsert_documents.delay(self.flood_org, [document])
        self.sent.setdefault("oversized", []).append(result.id)
        return f"{OVERSIZE_BYTES:,}-byte upsert {result.id}"

    def poison(self) -> str | None:
        """An upsert whose pool process dies under it on every delivery (as the OOM killer
        does to a message that blows up): the poison organization's row is locked, so it
        waits where it can be found, and killed."""
        from tasks.app import app
        from tasks.documents import upsert_documents

        libpq = self.direct_url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(libpq) as lock:
            lock.execute("SELECT 1 FROM organizations WHERE id = %s FOR UPDATE", [self.poison_org])
            result = upsert_documents.delay(self.poison_org, [_invoice(f"poison-{time.time()}")])
            self.sent.setdefault("poison", []).append(result.id)
            killed: set[int] = set()
            for _ in range(get_settings().max_worker_losses):
                if not _kill_the_process_running(app, result.id, killed, timeout=60):
                    return None
            lock.rollback()
        return f"poison upsert {result.id}"

    def kept(self) -> dict[str, int]:
        """Of what was sent, how many are in the dead intake, by kind."""
        ids = {m.task_id for m in dead_messages(runtime.unit_of_work(), None, limit=10_000)}
        return {kind: sum(t in ids for t in tasks) for kind, tasks in self.sent.items()}


def _kill_the_process_running(app: object, task_id: str, killed: set[int], timeout: float) -> bool:
    """SIGKILL the pool process running ``task_id`` (one not killed before: a worker may
    report a task of a process already gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(Exception):  # a worker restarting does not answer: ask again
            active = app.control.inspect(timeout=1.0).active() or {}  # type: ignore[attr-defined]
            pids = [t["worker_pid"] for ts in active.values() for t in ts if t["id"] == task_id]
            for pid in (p for p in pids if p not in killed):
                psutil.Process(pid).send_signal(signal.SIGKILL)
                killed.add(pid)
                return True
        time.sleep(0.2)
    return False


def _invoice(document_id: str) -> dict[str, object]:
    return {
        "id": document_id,
        "type": "invoice",
        "date": "2026-03-02",
        "currency": "EUR",
        "lines": [{"quantity": "1", "unit_price": "10.00"}],
    }
