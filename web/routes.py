"""The organization and job endpoints. They run in the server's thread pool: each is a few
short queries through the unit of work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from accounting import runtime
from accounting.domain.lanes import Lane
from accounting.services import jobs
from accounting.services import queue as queue_service
from tasks import client
from web import limits
from web.auth import Access, TokenOrg, check_org, not_found, tenant_access
from web.schemas import CancelResult, JobAccepted, JobView, QueueView, RecreateRequest

router = APIRouter(prefix="/v1")


@router.get("/orgs/{org_id}/queue", response_model=QueueView)
def queue(org_id: str, token_org: TokenOrg) -> QueueView:
    """Documents pending per lane and how long the oldest has waited, in flight, dead, and
    each unfinished job with its place in its lane and an estimate."""
    check_org(org_id, token_org)
    return _queue_view(org_id)


@router.post(
    "/orgs/{org_id}/recreate",
    response_model=JobAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses={429: {"description": "over the token's rate"}, 503: {}},
)
def recreate(
    org_id: str, body: RecreateRequest, access: Annotated[Access, Depends(tenant_access)]
) -> JobAccepted:
    """Recreate documents' entries on the high lane; follow the job at
    ``/v1/jobs/{job_id}/events``. At most ``ACCOUNTING_RECREATE_REQUESTS_PER_SECOND`` calls
    per second and token (429 with ``Retry-After`` beyond)."""
    check_org(org_id, str(access.org_id))
    limits.recreate_allowed(access.fingerprint)
    from tasks.app import app

    job_id = client.send_recreate(app, org_id, body.document_ids, body.requested_by)
    return JobAccepted(job_id=job_id)


@router.post("/orgs/{org_id}/pause", response_model=QueueView)
def pause(org_id: str, token_org: TokenOrg) -> QueueView:
    """Stop dispatching the organization's documents (nothing is dropped)."""
    check_org(org_id, token_org)
    queue_service.set_paused(runtime.unit_of_work(), org_id, True)
    return _queue_view(org_id)


@router.post("/orgs/{org_id}/resume", response_model=QueueView)
def resume(org_id: str, token_org: TokenOrg) -> QueueView:
    check_org(org_id, token_org)
    queue_service.set_paused(runtime.unit_of_work(), org_id, False)
    return _queue_view(org_id)


@router.get("/jobs/{job_id}", response_model=JobView)
def job(job_id: str, token_org: TokenOrg) -> JobView:
    progress = jobs.job_progress(runtime.unit_of_work(), job_id)
    if progress is None or progress.org_id != token_org:
        raise not_found()
    return JobView.of(progress)


@router.post("/jobs/{job_id}/cancel", response_model=CancelResult)
def cancel(job_id: str, token_org: TokenOrg) -> CancelResult:
    """Cancel what a recreate has not started; documents being posted finish."""
    taken_back, progress = jobs.cancel_job(runtime.unit_of_work(), token_org, job_id)
    return CancelResult(taken_back=taken_back, job=JobView.of(progress))


def _queue_view(org_id: str) -> QueueView:
    rates = {lane: runtime.recent_rate(lane) for lane in Lane}
    return QueueView.of(queue_service.queue_view(runtime.unit_of_work(), org_id, rates))
