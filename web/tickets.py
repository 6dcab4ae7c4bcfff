"""Stream tickets: a browser's ``EventSource`` cannot send ``Authorization``, and a token in a
URL ends up in logs. So a page asks ``POST /v1/jobs/{job_id}/ticket`` (with its bearer token)
for a ticket, and opens ``GET /v1/jobs/{job_id}/events?ticket=...``. A ticket opens that job's
stream once, within ``TICKET_SECONDS``; it is kept in Redis (any server process takes it)."""

from __future__ import annotations

import json
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from redis.exceptions import RedisError

from accounting import runtime
from accounting.services import jobs
from accounting.volatile import keys
from web.auth import Access, RequestAccess, not_found, tenant_access, unauthorized

router = APIRouter(prefix="/v1")
TICKET_SECONDS = 60


class Ticket(BaseModel):
    ticket: str
    expires_in: int


def unavailable(exc: Exception) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"Redis is unavailable: {str(exc)[:200]}",
        headers={"Retry-After": "1"},
    )


@router.post("/jobs/{job_id}/ticket", response_model=Ticket)
def ticket(job_id: str, access: Annotated[Access, Depends(tenant_access)]) -> Ticket:
    """A single-use ticket for ``GET /v1/jobs/{job_id}/events?ticket=...``, valid for 60 s:
    the one way to open a stream without an ``Authorization`` header."""
    value = secrets.token_urlsafe(24)
    held = json.dumps({"job_id": job_id, "org_id": access.org_id, "fp": access.fingerprint})
    try:
        owner = jobs.job_owner(runtime.unit_of_work(), runtime.progress_stream(), job_id)
        if owner is not None and owner != access.org_id:
            raise not_found()
        runtime.redis_client().set(keys.SSE_TICKET + value, held, ex=TICKET_SECONDS)
    except RedisError as exc:
        raise unavailable(exc) from exc
    return Ticket(ticket=value, expires_in=TICKET_SECONDS)


def _redeem(value: str, job_id: str) -> Access | None:
    try:
        held = runtime.redis_client().getdel(keys.SSE_TICKET + value)
    except RedisError as exc:
        raise unavailable(exc) from exc
    if held is None:
        return None
    found = json.loads(held)
    if found["job_id"] != job_id:
        return None
    return Access(found["org_id"], False, found["fp"])


async def stream_access(
    job_id: str,
    access: RequestAccess,
    ticket: Annotated[str | None, Query(max_length=64)] = None,
) -> Access:
    """The events endpoint's caller: a bearer token (a tenant's, or an admin's: the operator
    console follows any job), or a ticket for this job (used up)."""
    if ticket is not None:
        redeemed = await run_in_threadpool(_redeem, ticket, job_id)
        if redeemed is None:
            raise unauthorized("the ticket is unknown, used or expired: ask for another")
        return redeemed
    if access is None or (access.org_id is None and not access.admin):
        raise unauthorized()
    return access
