"""The organization and job endpoints. They run in the server's thread pool: each is a few
short queries through the unit of work."""

from __future__ import annotations

from fastapi import APIRouter, status
from kombu.exceptions import OperationalError

from accounting import jobs, runtime, services
from accounting.errors import TransientError
from accounting.metrics import recent_throughput
from web.auth import TokenOrg, check_org, not_found
from web.schemas import CancelResult, JobAccepted, JobView, LaneView, QueueView, RecreateRequest

router = APIRouter(prefix="/v1")


@router.get("/orgs/{org_id}/queue", response_model=QueueView)
def queue(org_id: str, token_org: TokenOrg) -> QueueView:
    """Documents pending per lane and how long the oldest has waited, in flight, dead, and
    each unfinished job with its place in its lane and an estimate."""
    check_org(org_id, token_org)
    return _queue_view(org_id)


@router.post(
    "/orgs/{org_id}/recreate", response_model=JobAccepted, status_code=status.HTTP_202_ACCEPTED
)
def recreate(org_id: str, body: RecreateRequest, token_org: TokenOrg) -> JobAccepted:
    """Recreate documents' entries on the high lane; follow the job at
    ``/v1/jobs/{job_id}/events``."""
    check_org(org_id, token_org)
    from tasks.app import app
    from tasks.base import PAYLOAD_SCHEMA

    try:
        result = app.send_task(
            "accounting.recreate",
            args=[org_id, body.document_ids],
            kwargs={"requested_by": body.requested_by, "schema": PAYLOAD_SCHEMA},
            queue="accounting.high",
        )
    except OperationalError as exc:  # the broker is down: nothing was sent, try again
        raise TransientError(f"the queue is unavailable: {exc}") from exc
    return JobAccepted(job_id=result.id)


@router.post("/orgs/{org_id}/pause", response_model=QueueView)
def pause(org_id: str, token_org: TokenOrg) -> QueueView:
    """Stop dispatching the organization's documents (nothing is dropped)."""
    check_org(org_id, token_org)
    services.set_paused(runtime.unit_of_work(), org_id, True)
    return _queue_view(org_id)


@router.post("/orgs/{org_id}/resume", response_model=QueueView)
def resume(org_id: str, token_org: TokenOrg) -> QueueView:
    check_org(org_id, token_org)
    services.set_paused(runtime.unit_of_work(), org_id, False)
    runtime.wakeup().notify()
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
    from tasks import progress_events

    taken_back, progress = jobs.cancel_job(runtime.unit_of_work(), token_org, job_id)
    progress_events.cancelled(job_id, taken_back, progress)
    return CancelResult(taken_back=taken_back, job=JobView.of(progress))


def _queue_view(org_id: str) -> QueueView:
    organization = services.organization(runtime.unit_of_work(), org_id)
    counts = services.status(runtime.unit_of_work(), org_id)
    oldest = services.oldest_pending_age_seconds(runtime.unit_of_work(), org_id)
    rates = {lane: recent_throughput(runtime.redis_client(), lane) for lane in ("high", "normal")}
    open_jobs = [
        JobView.of(job, ahead, jobs.estimated_seconds(ahead, job.pending, rates[job.lane]))
        for job, ahead in jobs.open_jobs(runtime.unit_of_work(), org_id)
    ]
    return QueueView(
        org_id=org_id,
        paused=organization.paused,
        lanes={
            lane: LaneView(
                pending=counts[f"pending_{lane}"], oldest_pending_seconds=oldest.get(lane, 0.0)
            )
            for lane in ("high", "normal")
        },
        in_flight=counts["in_flight"],
        dead=counts["dead"],
        posted=counts["posted"],
        jobs=open_jobs,
    )
