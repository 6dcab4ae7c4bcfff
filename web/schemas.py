"""The API's request and response bodies (they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from accounting.domain.jobs import JobProgress
from accounting.services import queue


class JobView(BaseModel):
    job_id: str
    kind: str
    lane: str
    total: int
    posted: int
    failed: int
    cancelled: int
    pending: int
    done: bool
    #: Documents of its lane due before it and still waiting (unfinished jobs only).
    ahead: int | None = None
    eta_seconds: float | None = None

    @classmethod
    def of(cls, job: JobProgress, ahead: int | None = None, eta: float | None = None) -> JobView:
        return cls(
            job_id=job.job_id,
            kind=job.kind,
            lane=job.lane,
            total=job.total,
            posted=job.posted,
            failed=job.failed,
            cancelled=job.cancelled,
            pending=job.pending,
            done=job.done,
            ahead=ahead,
            eta_seconds=eta,
        )


class LaneView(BaseModel):
    pending: int
    oldest_pending_seconds: float


class QueueView(BaseModel):
    org_id: str
    paused: bool
    lanes: dict[str, LaneView]
    in_flight: int
    dead: int
    posted: int
    jobs: list[JobView]

    @classmethod
    def of(cls, view: queue.QueueView) -> QueueView:
        return cls(
            org_id=view.org_id,
            paused=view.paused,
            lanes={
                str(lane): LaneView(
                    pending=lane_view.pending,
                    oldest_pending_seconds=lane_view.oldest_pending_seconds,
                )
                for lane, lane_view in view.lanes.items()
            },
            in_flight=view.in_flight,
            dead=view.dead,
            posted=view.posted,
            jobs=[JobView.of(job.progress, job.ahead, job.eta_seconds) for job in view.jobs],
        )


DocumentId = Annotated[str, Field(min_length=1, max_length=128)]


class RecreateRequest(BaseModel):
    document_ids: list[DocumentId] = Field(min_length=1, max_length=5000)
    requested_by: str | None = Field(default=None, max_length=200)


class JobAccepted(BaseModel):
    job_id: str


class CancelResult(BaseModel):
    taken_back: int
    job: JobView
