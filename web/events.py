"""``GET /v1/jobs/{job_id}/events``: a job's progress as Server-Sent Events, from its Redis
Stream. Each event's id is its stream id: a browser that reconnects sends ``Last-Event-ID``
and gets every event it missed, once, in order. The stream ends after ``done``, or after the
``refused`` of a request refused before it was recorded as a job."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from accounting import runtime
from accounting.config import get_settings
from accounting.domain.jobs import TERMINAL_EVENTS
from accounting.services import jobs
from accounting.volatile.progress import Event, parse_event, stream_key
from web import stream_hub
from web.auth import Access, not_found
from web.tickets import stream_access, unavailable

router = APIRouter(prefix="/v1")
#: How long a connection waits for an event before it gets a keep-alive comment.
KEEP_ALIVE_SECONDS = 15.0
#: What a Last-Event-ID is: a Redis stream id.
EVENT_ID = re.compile(r"[0-9]{1,20}(-[0-9]{1,20})?")
#: How long a job id nobody recorded yet is given to appear before it is "not found".
JOB_APPEARS_SECONDS = 10.0


class _Slots:
    """Event streams open per token in this process: at most ``SSE_STREAMS_PER_TOKEN``."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    def take(self, fingerprint: str) -> None:
        if self._open.get(fingerprint, 0) >= get_settings().sse_streams_per_token:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "too many event streams open with this token (ACCOUNTING_SSE_STREAMS_PER_TOKEN)",
                headers={"Retry-After": "5"},
            )
        self._open[fingerprint] = self._open.get(fingerprint, 0) + 1

    def give_back(self, fingerprint: str) -> None:
        left = self._open.get(fingerprint, 1) - 1
        if left > 0:
            self._open[fingerprint] = left
        else:
            self._open.pop(fingerprint, None)


slots = _Slots()


class _Stream(StreamingResponse):
    """A streaming response that gives its slot back however it ends (even unstarted)."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 204: {}, 429: {}},
)
async def events(
    job_id: str, request: Request, access: Annotated[Access, Depends(stream_access)]
) -> Response:
    """Server-Sent Events of the job: ``accepted`` (with ``rejected``, the count of documents
    not stored), ``rejected`` (one per document not stored: ``document_id``, ``field``,
    ``message``; at most 100, then one with ``more``, the count of the rest), ``queued``,
    ``progress``, ``failed``, ``cancelled``, ``done``. A request refused before it was
    recorded as a job (an unknown organization, a payload the workers do not take, a call over
    a limit) has one event, ``refused`` (``org_id``, ``error``, ``message``). The stream ends
    after ``done`` or ``refused``; a cursor at or after that last event is 204 at once. Send
    ``Last-Event-ID`` (or ``?last_event_id=``) to resume. Authenticate with
    ``Authorization: Bearer`` (the job's organization's token, or an admin token) or a
    ``?ticket=`` from ``POST /v1/jobs/{job_id}/ticket``; at
    most ``ACCOUNTING_SSE_STREAMS_PER_TOKEN`` streams per token at once (429)."""
    after = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if after and not EVENT_ID.fullmatch(after):
        raise HTTPException(422, "Last-Event-ID: not an event id of this stream")
    slots.take(access.fingerprint)
    try:
        owner = await _job_org(job_id)
        if owner is None or (owner != access.org_id and not access.admin):
            raise not_found()
        if await run_in_threadpool(_ended_before, job_id, after or "0"):
            slots.give_back(access.fingerprint)
            return Response(status_code=status.HTTP_204_NO_CONTENT)
    except BaseException:
        slots.give_back(access.fingerprint)
        raise
    stream = _stream(job_id, after or "0", request, owner)
    return _Stream(stream, lambda: slots.give_back(access.fingerprint))


async def _job_org(job_id: str) -> str | None:
    """The job's organization (or the one its refusal names). A job asked for a moment ago
    may not be recorded yet (a worker records it when it takes the request): wait for it a
    little, asking less and less often (about ten queries, not a hundred)."""
    deadline = time.monotonic() + JOB_APPEARS_SECONDS
    pause = 0.05
    while True:
        try:
            owner = await run_in_threadpool(
                jobs.job_owner, runtime.unit_of_work(), runtime.progress_stream(), job_id
            )
        except RedisError as exc:  # a job not in Postgres may be a refusal, kept in Redis
            raise unavailable(exc) from exc
        if owner is not None:
            return owner
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, 2.0)


def _ended_before(job_id: str, after: str) -> bool:
    """Whether the job's stream has ended (its last event is ``done`` or ``refused``) at or
    before ``after``: then there is nothing more to send, ever."""
    try:
        entries: Any = runtime.redis_client().xrevrange(stream_key(job_id), count=1)
    except RedisError:
        return False  # the stream says so once Redis is back
    if not entries:
        return False
    last = parse_event(*entries[0])
    return last.type in TERMINAL_EVENTS and stream_hub.order(after) >= stream_hub.order(last.id)


async def _stream(job_id: str, after: str, request: Request, org_id: str) -> AsyncIterator[str]:
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
            if event.data.get("org_id", org_id) != org_id:
                continue  # another organization's task took this job id: never shown
            yield _frame(event)
            if event.type in TERMINAL_EVENTS:
                return
    finally:
        hub.leave(follower)


def _frame(event: Event) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(event.data)}\n\n"
