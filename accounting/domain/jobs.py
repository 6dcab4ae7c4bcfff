"""Jobs as their followers see them: how far one has got, when it should be done, and the
events that say so."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from accounting_impact_client.documents import Rejection

#: ``rejected`` events of one job: a call of 5,000 bad documents tells its followers the first
#: ones and how many more (its task result lists them all).
MAX_REJECTED_EVENTS = 100


@dataclass(frozen=True)
class JobProgress:
    job_id: str
    org_id: str
    kind: str
    lane: str
    total: int
    posted: int
    failed: int
    cancelled: int = 0

    @property
    def pending(self) -> int:
        return self.total - self.posted - self.failed - self.cancelled

    @property
    def done(self) -> bool:
        return self.pending == 0


def estimated_seconds(ahead: int, pending: int, documents_per_second: float) -> float | None:
    """When the job should be done at the lane's recent rate (None before any rate is known)."""
    if documents_per_second <= 0:
        return None
    return round((ahead + pending) / documents_per_second, 1)


def progress_events(progress: JobProgress) -> list[tuple[str, dict[str, Any]]]:
    """Where a job stands, and ``done`` once nothing of it is pending."""
    counts = {"posted": progress.posted, "failed": progress.failed, "total": progress.total}
    if progress.cancelled:
        counts["cancelled"] = progress.cancelled
    events: list[tuple[str, dict[str, Any]]] = [("progress", counts)]
    if progress.done:
        events.append(("done", counts))
    return events


def accepted_events(
    job_id: str, org_id: str, kind: str, total: int, rejected: Sequence[Rejection]
) -> list[tuple[str, dict[str, Any]]]:
    """``accepted`` with its counts, a ``rejected`` event per document that was not stored (at
    most MAX_REJECTED_EVENTS, then one that counts the rest), and ``done`` at once when the
    job waits for nothing."""
    accepted = {
        "job_id": job_id,
        "org_id": org_id,
        "kind": kind,
        "total": total,
        "rejected": len(rejected),
    }
    events: list[tuple[str, dict[str, Any]]] = [("accepted", accepted)]
    events += [("rejected", r.as_dict()) for r in rejected[:MAX_REJECTED_EVENTS]]
    rest = len(rejected) - MAX_REJECTED_EVENTS
    if rest > 0:
        message = f"{rest:,} more documents rejected: the task's result lists them all"
        events.append(
            ("rejected", {"document_id": None, "field": None, "message": message, "more": rest})
        )
    if total == 0:
        events.append(("done", {"posted": 0, "failed": 0, "total": 0}))
    return events


def refused_event(org_id: str | None, error_type: str, message: str) -> tuple[str, dict[str, Any]]:
    """The one event of a request refused before it was recorded as a job (an unknown
    organization, a payload this worker does not take, a call over a limit): it ends the
    job's stream, as ``done`` does."""
    return "refused", {"org_id": org_id, "error": error_type, "message": message}


#: Events after which nothing more comes for the job.
TERMINAL_EVENTS = frozenset({"done", "refused"})
