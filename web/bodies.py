"""Request bodies read with a limit: a body over it is refused (413) before it is parsed, and
before more of it than the limit is held in memory."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request, status


def too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"the body is over the {limit:,}-byte limit (ACCOUNTING_MAX_MESSAGE_BYTES): split the call",
    )


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused as soon as its declared length or the bytes received pass ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """The body as JSON, as a worker decodes a task's message (numbers with a point are
    floats, which money refuses); 422 when it is not JSON."""
    try:
        return json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"the body is not JSON: {str(exc)[:200]}"
        ) from exc
