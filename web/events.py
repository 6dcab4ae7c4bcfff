"""``GET /v1/jobs/{job_id}/events``: a job's progress as Server-Sent Events, from its Redis
Stream. Each event's id is its stream id: a browser that reconnects sends ``Last-Event-ID``
and gets every event it missed, once, in order. The stream ends after ``done``, or after the
``refused`` of a request refused before it was recorded as a job."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from accounting import runtime
from accounting.domain.jobs import TERMINAL_EVENTS
from accounting.services import jobs
from accounting.volatile.progress import Event, stream_key
from web import stream_hub
from web.auth import TokenOrg, not_found

router = APIRouter(prefix="/v1")
#: How long a connection waits for an event before it gets a keep-alive comment.
KEEP_ALIVE_SECONDS = 15.0
#: What a Last-Event-ID is: a Redis stream id.
EVENT_ID = re.compile(r"[0-9]{1,20}(-[0-9]{1,20})?")
#: How long a job id nobody recorded yet is given to appear before it is "not found".
JOB_APPEARS_SECONDS = 10.0


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(job_id: str, request: Request, token_org: TokenOrg) -> StreamingResponse:
    """Server-Sent Events of the job: ``accepted`` (with ``rejected``, the count of documents
    not stored), ``rejected`` (one per document not stored: ``document_id``, ``field``,
    ``message``; at most 100, then one with ``more``, the count of the rest), ``queued``,
    ``progress``, ``failed``, ``cancelled``, ``done``. A request refused before it was
    recorded as a job (an unknown organization, a payload the workers do not take, a call over
    a limit) has one event, ``refused`` (``org_id``, ``error``, ``message``). The stream ends
    after ``done`` or ``refused``. Send ``Last-Event-ID`` (or ``?last_event_id=``) to
    resume."""
    org_id = await _job_org(job_id)
    if org_id != token_org:
        raise not_found()
    after = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if after and not EVENT_ID.fullmatch(after):
        raise HTTPException(422, "Last-Event-ID: not an event id of this stream")
    return StreamingResponse(
        _stream(job_id, after or "0", request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _job_org(job_id: str) -> str | None:
    """The job's organization (or the one its refusal names). A job asked for a moment ago
    may not be recorded yet (a worker records it when it takes the request): wait for it a
    little."""
    deadline = time.monotonic() + JOB_APPEARS_SECONDS
    while True:
        owner = await run_in_threadpool(
            jobs.job_owner, runtime.unit_of_work(), runtime.progress_stream(), job_id
        )
        if owner is not None:
            return owner
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.1)


async def _stream(job_id: str, after: str, request: Request) -> AsyncIterator[str]:
    hub = stream_hub.hub(runtime.redis_url)
    follower = await hub.follow(stream_key(job_id), after)
    try:
        yield "retry: 1000\n\n"
        while not await request.is_disconnected():
            try:
                event = await asyncio.wait_for(follower.queue.get(), KEEP_ALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield _frame(event)
            if event.type in TERMINAL_EVENTS:
                return
    finally:
        hub.leave(follower)


def _frame(event: Event) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(event.data)}\n\n"
