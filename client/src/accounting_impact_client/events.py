"""Following a job's events: Server-Sent Events from ``GET /v1/jobs/{id}/events``, with the
standard library only. A dropped connection is reopened with ``Last-Event-ID``: the server
replays what was missed, once, in order."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Events after which a job's stream ends.
TERMINAL = frozenset({"done", "refused"})
RECONNECT_SECONDS = 1.0
#: Reconnects in a row without an event before the follower gives up.
MAX_RECONNECTS = 30


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    data: dict[str, Any]


def follow(
    api_url: str, token: str, job_id: str, *, last_event_id: str | None = None
) -> Iterator[Event]:
    """Every event of the job from ``last_event_id`` on, until a terminal one."""
    url = f"{api_url.rstrip('/')}/v1/jobs/{job_id}/events"
    failures = 0
    while True:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as reply:
                if reply.status == 204:  # the job ended and its last event was seen
                    return
                for event in _parse(line.decode() for line in reply):
                    failures = 0
                    last_event_id = event.id
                    yield event
                    if event.type in TERMINAL:
                        return
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403, 404):
                raise
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        failures += 1
        if failures > MAX_RECONNECTS:
            raise ConnectionError(f"job {job_id}: events unavailable after {failures} tries")
        time.sleep(RECONNECT_SECONDS)


def _parse(lines: Iterator[str]) -> Iterator[Event]:
    """SSE frames: ``id:``, ``event:`` and ``data:`` fields up to a blank line; comments and
    ``retry:`` skipped."""
    fields: dict[str, str] = {}
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if "data" in fields:
                data = json.loads(fields["data"])
                yield Event(fields.get("id", ""), fields.get("event", "message"), data)
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        fields[name] = f"{fields[name]}\n{value}" if name == "data" and name in fields else value
