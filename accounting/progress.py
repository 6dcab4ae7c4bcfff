"""Where a job's progress events live in Redis: one stream per job."""

from __future__ import annotations

STREAM_PREFIX = "accounting:progress:"


def stream_key(job_id: str) -> str:
    return f"{STREAM_PREFIX}{job_id}"
