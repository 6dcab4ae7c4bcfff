"""Jobs as their followers see them: how far one has got, when it should be done, and the
events that say so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
