"""The two lanes: ``high`` for user recreates, ``normal`` for syncs and backfills."""

from __future__ import annotations

from enum import StrEnum


class Lane(StrEnum):
    """One spelling of a lane: its name (``str(lane)``), its Celery queue and the priority
    a pending document carries in Postgres."""

    HIGH = "high"
    NORMAL = "normal"

    @property
    def priority(self) -> int:
        return 1 if self is Lane.HIGH else 0

    @property
    def queue(self) -> str:
        return f"accounting.{self.value}"

    @classmethod
    def of_priority(cls, priority: int) -> Lane:
        return cls.HIGH if priority else cls.NORMAL

    @classmethod
    def of_queue(cls, queue: str | None) -> Lane | None:
        """The lane a queue name serves, or None for any other queue."""
        return next((lane for lane in cls if lane.queue == queue), None)
