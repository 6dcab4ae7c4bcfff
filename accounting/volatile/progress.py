"""A job's progress events, in order, in a Redis Stream of its own: ``accepted``, ``rejected``
(a document not stored and why), ``queued`` (with its place and an estimate), ``progress``
(posted k of n), ``failed`` (a document and why), ``done``; or ``refused`` alone, for a
request refused before it was recorded as a job. A stream entry's id is the event's id, so a
reader that reconnects asks for what came after the last id it saw and misses nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from accounting.domain.jobs import JobProgress, progress_events
from accounting.volatile import keys

log = logging.getLogger(__name__)

#: Events kept per job; a job's failures beyond it are summarised by its counts.
MAX_EVENTS = 10_000


def stream_key(job_id: str) -> str:
    return f"{keys.PROGRESS}{job_id}"


def _seen_key(job_id: str) -> str:
    return f"{keys.PROGRESS_SEEN}{job_id}"


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    data: dict[str, Any]


class ProgressStream:
    """Appends a job's events, and reads them back after a given event id."""

    def __init__(self, client: redis.Redis, retention_seconds: int) -> None:
        self._client = client
        self._retention = retention_seconds

    def publish(self, job_id: str, events: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Best effort: progress is a view of what Postgres holds, so a lost event costs the
        reader a moment of staleness, never a document."""
        try:
            pipe = self._client.pipeline(transaction=False)
            for event_type, data in events:
                pipe.xadd(
                    stream_key(job_id),
                    {"event": event_type, "data": json.dumps(data)},
                    maxlen=MAX_EVENTS,
                    approximate=True,
                )
            pipe.expire(stream_key(job_id), self._retention)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning(
                "progress of job %s not published: %s", job_id, exc, extra={"job_id": job_id}
            )

    def publish_progress(self, progress: JobProgress, failures: dict[str, str]) -> None:
        """The job's failed documents, then where it stands, then ``done``: counts that only
        grow, and ``done`` once, whatever order concurrent batches of the job publish in (each
        reads the job after its own commit, so the last to read sees it all)."""
        self.publish(
            progress.job_id,
            [("failed", {"document_id": i, "reason": r}) for i, r in failures.items()],
        )
        settled = progress.posted + progress.failed + progress.cancelled
        key, seen = stream_key(progress.job_id), _seen_key(progress.job_id)
        try:
            with self._client.pipeline() as pipe:
                while True:
                    try:
                        pipe.watch(seen)  # type: ignore[no-untyped-call]
                        if settled <= int(pipe.get(seen) or -1):
                            return  # an equal or later count is out already
                        pipe.multi()
                        pipe.set(seen, settled, ex=self._retention)
                        for event_type, data in progress_events(progress):
                            pipe.xadd(key, {"event": event_type, "data": json.dumps(data)})
                        pipe.expire(key, self._retention)
                        pipe.execute()
                        return
                    except redis.WatchError:
                        continue
        except redis.RedisError as exc:
            log.warning("progress of job %s not published: %s", progress.job_id, exc)

    def read(self, job_id: str, after: str = "0", count: int = 1000) -> list[Event]:
        entries = self._client.xrange(stream_key(job_id), min=f"({after}", count=count) or []
        return [
            parse_event(entry_id, fields) for entry_id, fields in entries if entry_id and fields
        ]

    def refusal(self, job_id: str) -> Event | None:
        """The ``refused`` event that opens the stream of a request refused before it was
        recorded as a job, if it is one."""
        first = self.read(job_id, count=1)
        return first[0] if first and first[0].type == "refused" else None

    def follow(self, cursors: dict[str, str], block_ms: int) -> list[tuple[str, Event]]:
        """The events after each job's cursor (its last event id), waiting up to ``block_ms``
        for one to come; advances the cursors."""
        if not cursors:
            return []
        streams: dict[Any, Any] = {stream_key(job): after for job, after in cursors.items()}
        replies: list[Any] = self._client.xread(streams, block=block_ms, count=1000) or []  # type: ignore[assignment]
        events = []
        for key, entries in replies:
            job_id = keys.text(key).removeprefix(keys.PROGRESS)
            for entry_id, fields in entries:
                event = parse_event(entry_id, fields)
                cursors[job_id] = event.id
                events.append((job_id, event))
        return events


def parse_event(entry_id: bytes | str, fields: dict[Any, Any]) -> Event:
    text = {keys.text(k): keys.text(v) for k, v in fields.items()}
    return Event(keys.text(entry_id), text["event"], json.loads(text["data"]))
