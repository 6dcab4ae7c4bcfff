"""The operator console: the page at ``/console`` and its JSON API under ``/v1/admin``, for
admin tokens only (``accounting token create --admin``; a tenant token gets 403). Every
organization's queue with pause and resume, dead letters and dead intake with retry, job
history with each job's events, and one document with its entry sets. The page holds no
token in its URL: it asks for one and sends it as ``Authorization: Bearer``."""

from __future__ import annotations

import datetime as dt
from functools import partial
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from accounting import runtime
from accounting.services import console
from accounting.services import queue as queue_service
from tasks import client
from web.auth import AdminToken, not_found
from web.console_schemas import (
    DeadLetterView,
    DeadMessageView,
    DocumentView,
    JobDetailView,
    JobRow,
    OrgView,
    RetryDead,
    RetryIntake,
    Revived,
    Sent,
)

CONSOLE_PAGE = Path(__file__).parent / "static" / "console.html"

api = APIRouter(prefix="/v1/admin", tags=["console"], dependencies=[AdminToken])
page = APIRouter()

Limit = Annotated[int, Query(ge=1, le=console.MAX_LIMIT, description="at most 500 rows")]
Text = Annotated[str | None, Query(max_length=500)]
Org = Annotated[str | None, Query(max_length=128)]


@page.get("/console", include_in_schema=False)
def console_page() -> HTMLResponse:
    """The operator console (it asks for an admin token)."""
    return HTMLResponse(CONSOLE_PAGE.read_text(), headers={"Cache-Control": "no-store"})


@api.get("/orgs", response_model=list[OrgView])
def organizations() -> list[OrgView]:
    """Every organization: backlog and oldest age per lane, in flight, dead, dead intake and
    whether it is paused."""
    return [OrgView.of(org) for org in console.organizations(runtime.unit_of_work())]


@api.post("/orgs/{org_id}/pause", response_model=OrgView)
def pause(org_id: str) -> OrgView:
    """Stop dispatching the organization's documents (nothing is dropped)."""
    queue_service.set_paused(runtime.unit_of_work(), org_id, True)
    return _organization(org_id)


@api.post("/orgs/{org_id}/resume", response_model=OrgView)
def resume(org_id: str) -> OrgView:
    """Dispatch the organization's documents again."""
    queue_service.set_paused(runtime.unit_of_work(), org_id, False)
    return _organization(org_id)


def _organization(org_id: str) -> OrgView:
    for org in console.organizations(runtime.unit_of_work()):
        if org.org_id == org_id:
            return OrgView.of(org)
    raise not_found()


@api.get("/dead", response_model=list[DeadLetterView])
def dead_letters(org: Org = None, error: Text = None, limit: Limit = 100) -> list[DeadLetterView]:
    """Dead documents (given up on) with their reason, attempts and version, by organization
    and id; ``error`` keeps those whose last error contains it (any case)."""
    rows = console.dead_letters(runtime.unit_of_work(), org, error, limit)
    return [DeadLetterView.of(row) for row in rows]


@api.post("/dead/retry", response_model=Revived)
def retry_dead_letters(body: RetryDead) -> Revived:
    """Make dead documents pending again: ``{org, document_ids}``, or ``{org, all: true}``
    with an optional ``error`` (every dead document of the organization whose error contains
    it)."""
    revived = console.retry_dead_letters(
        runtime.unit_of_work(),
        body.org,
        document_ids=body.document_ids,
        error=None if body.document_ids is not None else body.error,
    )
    return Revived(revived=revived)


@api.get("/intake", response_model=list[DeadMessageView])
def dead_intake(
    org: Org = None, error: Text = None, retried: bool = False, limit: Limit = 100
) -> list[DeadMessageView]:
    """Messages the workers accepted but could not apply, kept whole, newest first; with
    ``retried``, those sent again too."""
    rows = console.dead_intake(runtime.unit_of_work(), org, error, limit, retried=retried)
    return [DeadMessageView.of(row) for row in rows]


@api.post("/intake/retry", response_model=Sent)
def retry_dead_intake(body: RetryIntake) -> Sent:
    """Send kept messages again, each under its own task id (its sender's job id):
    ``{org, ids}``, or ``{org, all: true}`` with an optional ``error``."""
    from tasks.app import app

    sent = console.retry_dead_intake(
        runtime.unit_of_work(),
        body.org,
        partial(client.send_again, app),
        ids=body.ids,
        error=None if body.ids is not None else body.error,
    )
    return Sent(sent=[DeadMessageView.of(message) for message in sent])


@api.get("/jobs", response_model=list[JobRow])
def jobs(
    id: Annotated[str | None, Query(max_length=200)] = None,
    org: Org = None,
    kind: Literal["sync", "recreate"] | None = None,
    state: Literal["open", "done", "failed"] | None = None,
    since: dt.datetime | None = None,
    limit: Limit = 100,
) -> list[JobRow]:
    """Jobs, newest first, matching every filter given: ``state`` is ``open`` (waiting for a
    document), ``done``, or ``failed`` (done, with documents given up on); ``since`` an ISO
    time (created at or after it)."""
    found = console.search_jobs(
        runtime.unit_of_work(),
        job_id=id,
        org_id=org,
        kind=kind,
        state=state,
        since=since,
        limit=limit,
    )
    return [JobRow.of(job) for job in found]


@api.get("/jobs/{job_id}", response_model=JobDetailView)
def job(job_id: str, after: Annotated[str, Query(pattern=r"^\d+(-\d+)?$")] = "0") -> JobDetailView:
    """A job, whatever its organization, and its events after ``after`` (an event id: ask
    again with the last one seen to follow it)."""
    detail = console.job_detail(runtime.unit_of_work(), runtime.progress_stream(), job_id, after)
    if detail is None:
        raise not_found()
    return JobDetailView.of(detail)


@api.get("/orgs/{org_id}/documents/{document_id}", response_model=DocumentView)
def document(org_id: str, document_id: str) -> DocumentView:
    """A document: its versions (ready, posted, failed), state, attempts, last error, and its
    active and past entry sets with their lines."""
    detail = console.document_detail(runtime.unit_of_work(), org_id, document_id)
    if detail is None:
        raise not_found()
    return DocumentView.of(detail)


#: What the application includes: the page, and the API behind the admin token.
router = APIRouter()
router.include_router(api)
router.include_router(page)
