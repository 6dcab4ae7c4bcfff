"""The operator console API's request and response bodies (they make its OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, Field, model_validator

from accounting.domain.intake import DeadMessage
from accounting.services.console import (
    DeadLetter,
    DocumentDetail,
    EntryRecord,
    EntrySet,
    JobDetail,
    JobRecord,
    OrgFigures,
)
from web.schemas import DocumentId

OrgId = Annotated[str, Field(min_length=1, max_length=128)]


class OrgView(BaseModel):
    org_id: str
    name: str
    paused: bool
    #: Per lane: documents waiting, and how long the oldest has waited.
    pending: dict[str, int]
    oldest_pending_seconds: dict[str, float]
    in_flight: int
    dead: int
    dead_intake: int

    @classmethod
    def of(cls, org: OrgFigures) -> OrgView:
        return cls(**vars(org))


class DeadLetterView(BaseModel):
    org_id: str
    document_id: str
    type: str
    version: int
    attempts: int
    error: str | None
    ready_at: dt.datetime

    @classmethod
    def of(cls, dead: DeadLetter) -> DeadLetterView:
        return cls(**vars(dead))


class Selection(BaseModel):
    """What to retry: the given ones, or (``all``) every one matching ``error``."""

    org: OrgId
    error: Annotated[str | None, Field(max_length=500)] = None
    all: bool = False

    def _check(self, chosen: object) -> None:
        if (chosen is None) == (not self.all):
            raise ValueError("give either the ids to retry or all: true (with an optional error)")


class RetryDead(Selection):
    document_ids: Annotated[list[DocumentId] | None, Field(min_length=1, max_length=5000)] = None

    @model_validator(mode="after")
    def one_choice(self) -> Self:
        self._check(self.document_ids)
        return self


class Revived(BaseModel):
    revived: int


class DeadMessageView(BaseModel):
    id: int
    task_id: str
    task_name: str
    org_id: str | None
    reason: str
    deliveries: int
    #: False for a message refused for its size: it was not kept and cannot be sent again.
    kept_whole: bool
    recorded_at: dt.datetime
    retried_at: dt.datetime | None

    @classmethod
    def of(cls, message: DeadMessage) -> DeadMessageView:
        return cls(
            id=message.id,
            task_id=message.task_id,
            task_name=message.task_name,
            org_id=message.org_id,
            reason=message.reason,
            deliveries=message.deliveries,
            kept_whole=message.args is not None,
            recorded_at=message.recorded_at,
            retried_at=message.retried_at,
        )


class RetryIntake(Selection):
    ids: Annotated[list[int] | None, Field(min_length=1, max_length=5000)] = None

    @model_validator(mode="after")
    def one_choice(self) -> Self:
        self._check(self.ids)
        return self


class Sent(BaseModel):
    #: The messages sent again, each under its own task id.
    sent: list[DeadMessageView]


class JobRow(BaseModel):
    job_id: str
    org_id: str
    kind: str
    lane: str
    total: int
    posted: int
    failed: int
    cancelled: int
    pending: int
    done: bool
    requested_by: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, record: JobRecord) -> JobRow:
        job = record.progress
        return cls(
            job_id=job.job_id,
            org_id=job.org_id,
            kind=job.kind,
            lane=job.lane,
            total=job.total,
            posted=job.posted,
            failed=job.failed,
            cancelled=job.cancelled,
            pending=job.pending,
            done=job.done,
            requested_by=record.requested_by,
            created_at=record.created_at,
        )


class EventView(BaseModel):
    id: str
    type: str
    data: dict[str, Any]


class JobDetailView(BaseModel):
    job: JobRow
    #: Its events after ``after``, in order (``id`` is the next cursor).
    events: list[EventView]

    @classmethod
    def of(cls, detail: JobDetail) -> JobDetailView:
        return cls(
            job=JobRow.of(detail.job),
            events=[EventView(id=e.id, type=e.type, data=e.data) for e in detail.events],
        )


class LineView(BaseModel):
    account: str
    currency: str
    amount: Decimal
    functional_amount: Decimal


class EntryView(BaseModel):
    id: int
    seq: int
    status: str
    entry_date: dt.date
    currency: str
    matrix_version: int
    reverses_id: int | None
    created_at: dt.datetime
    replaced_at: dt.datetime | None
    lines: list[LineView]

    @classmethod
    def of(cls, entry: EntryRecord) -> EntryView:
        values = vars(entry) | {"lines": [LineView(**vars(line)) for line in entry.lines]}
        values.pop("document_version")
        return cls(**values)


class EntrySetView(BaseModel):
    document_version: int
    status: str
    entries: list[EntryView]

    @classmethod
    def of(cls, entry_set: EntrySet) -> EntrySetView:
        return cls(
            document_version=entry_set.document_version,
            status=entry_set.status,
            entries=[EntryView.of(e) for e in entry_set.entries],
        )


class DocumentView(BaseModel):
    org_id: str
    document_id: str
    type: str
    #: ``posted``, ``dead``, ``in flight`` or ``pending``.
    state: str
    revision: int | None
    ready_version: int
    posted_version: int
    failed_version: int
    lane: str
    attempts: int
    last_error: str | None
    lease_until: dt.datetime | None
    ready_at: dt.datetime
    posted_at: dt.datetime | None
    active: list[EntrySetView]
    past: list[EntrySetView]

    @classmethod
    def of(cls, detail: DocumentDetail) -> DocumentView:
        d = detail.document
        return cls(
            org_id=d.org_id,
            document_id=d.id,
            type=d.type,
            state=detail.state,
            revision=d.revision,
            ready_version=d.ready_version,
            posted_version=d.posted_version,
            failed_version=d.failed_version,
            lane="high" if d.priority == 1 else "normal",
            attempts=d.attempts,
            last_error=d.last_error,
            lease_until=d.lease_until,
            ready_at=d.ready_at,
            posted_at=d.posted_at,
            active=[EntrySetView.of(s) for s in detail.active],
            past=[EntrySetView.of(s) for s in detail.past],
        )
