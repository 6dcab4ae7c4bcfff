"""What the workers answer, typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from accounting_impact_client.documents import Rejection


def _rejections(result: Mapping[str, Any]) -> tuple[Rejection, ...]:
    return tuple(
        Rejection(item.get("document_id"), str(item.get("field")), str(item.get("message")))
        for item in result.get("rejected", [])
    )


@dataclass(frozen=True)
class Job:
    """A call sent: its job id (the task id) is what its events are followed by."""

    id: str
    org_id: str
    task: str
    #: How many times the call was sent (the same task id each time).
    sends: int = 1


@dataclass(frozen=True)
class SyncResult:
    """A sync stored in Postgres: every document is changed, unchanged, stale (an older
    revision than the one stored) or rejected (not stored, with the field and why)."""

    job: Job
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    stale: tuple[str, ...]
    rejected: tuple[Rejection, ...] = field(default=())

    @property
    def job_id(self) -> str:
        return self.job.id

    @classmethod
    def of(cls, job: Job, result: Mapping[str, Any]) -> SyncResult:
        return cls(
            job,
            tuple(result.get("changed", [])),
            tuple(result.get("unchanged", [])),
            tuple(result.get("stale", [])),
            _rejections(result),
        )


@dataclass(frozen=True)
class RecreateResult:
    """A recreate taken in: posted right away (a small one), failed, or queued on the high
    lane (follow its events to ``done``)."""

    job: Job
    requested: int
    posted: tuple[str, ...]
    failed: Mapping[str, str]
    queued: int
    paused: bool
    rejected: tuple[Rejection, ...] = field(default=())

    @property
    def job_id(self) -> str:
        return self.job.id

    @classmethod
    def of(cls, job: Job, result: Mapping[str, Any]) -> RecreateResult:
        return cls(
            job,
            int(result.get("requested", 0)),
            tuple(result.get("posted", [])),
            dict(result.get("failed", {})),
            int(result.get("queued", 0)),
            bool(result.get("paused", False)),
            _rejections(result),
        )
