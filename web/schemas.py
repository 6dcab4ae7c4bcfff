"""The API's request and response bodies (they make the OpenAPI schema)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from accounting.domain.jobs import JobProgress
from accounting.errors import PermanentError
from accounting.services import queue
from accounting_impact_client.limits import (
    MAX_ID_LENGTH,
    MAX_IDS_PER_RECREATE,
    MAX_REQUESTED_BY_LENGTH,
)
from tasks.payloads import requested_by_text, require_id


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


def _as_task_reads(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A validator that reads a value as the recreate task does (``tasks.payloads``): what the
    worker would refuse is a 422 naming the field, not a 202 for a job that never appears."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except PermanentError as exc:
            raise ValueError(str(exc).partition(": ")[2] or str(exc)) from exc

    return validate


DocumentId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID_LENGTH),
    AfterValidator(_as_task_reads(lambda value: require_id("document_ids[]", value))),
]
RequestedBy = Annotated[
    str | None,
    Field(default=None, max_length=MAX_REQUESTED_BY_LENGTH),
    AfterValidator(_as_task_reads(requested_by_text)),
]


class RecreateRequest(BaseModel):
    document_ids: list[DocumentId] = Field(min_length=1, max_length=MAX_IDS_PER_RECREATE)
    requested_by: RequestedBy = None


class JobAccepted(BaseModel):
    job_id: str


class CancelResult(BaseModel):
    taken_back: int
    job: JobView
