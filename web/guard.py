"""The HTTP layer's outer guard, an ASGI middleware in front of every route.

A ``/v1`` request that may carry a body (any method but GET, HEAD and OPTIONS) is checked
before a byte of its body is read: a declared ``Content-Length`` over the limit is 413, and an
``Authorization`` header that opens nothing is 401. Then the body is counted as it streams in
(chunked bodies declare no length): once it passes the limit the answer is 413 and the rest is
never read. The limit is ``ACCOUNTING_MAX_REQUEST_BYTES`` (1 MiB), and
``ACCOUNTING_MAX_MESSAGE_BYTES`` for the documents intake. The resolved token is left in the
request's state, so the routes' dependencies do not look it up again. Every response gets
``Referrer-Policy: no-referrer``."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accounting.config import get_settings
from web.auth import access_of, bearer_token

#: Paths whose bodies may be as large as a task message.
INTAKE = re.compile(r"/v1/orgs/[^/]+/documents")
WITHOUT_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


def body_limit(path: str) -> tuple[int, str]:
    """The largest body ``path`` takes, and the setting that says so."""
    settings = get_settings()
    if INTAKE.fullmatch(path):
        return settings.max_message_bytes, "ACCOUNTING_MAX_MESSAGE_BYTES"
    return settings.max_request_bytes, "ACCOUNTING_MAX_REQUEST_BYTES"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _answer(send: Send, code: int, detail: str, headers: dict[str, str]) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": code, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int, setting: str) -> str:
    return f"the body is over the {limit:,}-byte limit ({setting}): split the call"


class _CountedBody:
    """The request's receive and send, cut off with a 413 once the body passes the limit."""

    def __init__(self, receive: Receive, send: Send, limit: int, setting: str) -> None:
        self._receive, self._send = receive, send
        self._limit, self._setting = limit, setting
        self.received = 0
        self.started = False
        self.refused = False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self._limit:
                self.refused = True
                if not self.started:
                    self.started = True
                    await _answer(
                        self._send,
                        413,
                        _too_large(self._limit, self._setting),
                        {"Connection": "close"},
                    )
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the 413 is the answer; the application's, to a cut body, is dropped
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _no_referrer(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), _REFERRER]}
        await send(message)

    return sending


_REFERRER = (b"referrer-policy", b"no-referrer")


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _no_referrer(send)
        if not scope["path"].startswith("/v1/") or scope["method"] in WITHOUT_BODY:
            await self.app(scope, receive, send)
            return
        await self._guarded(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit, setting = body_limit(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _answer(send, 413, _too_large(limit, setting), {"Connection": "close"})
            return
        token = bearer_token(_header(scope, b"authorization"))
        access = await run_in_threadpool(access_of, token) if token else None
        if access is None:
            headers = {"WWW-Authenticate": "Bearer", "Connection": "close"}
            await _answer(send, 401, "a valid bearer token is needed", headers)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["access"] = access
        body = _CountedBody(receive, send, limit, setting)
        try:
            await self.app(scope, body.receive, body.send)
        except Exception:
            if not body.refused:
                raise  # a cut body's failure to parse is no error of the server's
