"""Every Redis key of accounting-impact, in one place (Celery's own keys aside)."""

from __future__ import annotations

PREFIX = "accounting:"

#: Posting matrices by (organization, version, publication stamp).
MATRIX = f"{PREFIX}matrix:"
#: The dispatcher's one-slot wake-up list.
WAKE = f"{PREFIX}dispatch:wake"
#: Token buckets by organization.
RATE_LIMIT = f"{PREFIX}ratelimit:"
#: Token buckets of the API's recreates, by token fingerprint.
RECREATE_RATE = f"{PREFIX}ratelimit-recreate:"
#: Single-use tickets that open one job's event stream (GET .../events?ticket=).
SSE_TICKET = f"{PREFIX}sse-ticket:"
#: Each job's progress stream (the cleanup job scans this prefix for streams).
PROGRESS = f"{PREFIX}progress:"
#: The highest settled count each job's stream announced (not under PROGRESS: not a stream).
PROGRESS_SEEN = f"{PREFIX}progress-seen:"
#: Batches published and not started, per lane (a sorted set by publication time), and each
#: one's organization and documents.
OUTSTANDING = f"{PREFIX}outstanding:"
BATCH = f"{PREFIX}batch:"
#: How each message fared on its deliveries (started, finished, first failure), by task id.
DELIVERIES = f"{PREFIX}deliveries:"
#: Consumer slots each worker announced, per lane (a hash: worker -> slots and expiry).
WORKER_SLOTS = f"{PREFIX}worker-slots:"
#: Metrics counters, latency histograms and per-minute posting counts.
METRICS = f"{PREFIX}metrics:"
METRICS_COUNTERS = f"{METRICS}counters"
#: The name the SSE hubs' connections carry in CLIENT LIST (counted by `bench sse`).
SSE_CLIENT_NAME = "accounting-sse"


def text(value: bytes | str) -> str:
    """A Redis reply as text (clients not made with ``decode_responses`` return bytes)."""
    return value.decode() if isinstance(value, bytes) else value
