"""A job's events in its Redis Stream (fakeredis): in order, read back after any event id."""

from __future__ import annotations

import fakeredis

from accounting.domain.jobs import JobProgress, progress_events
from accounting.volatile.progress import ProgressStream, stream_key


def progress(posted: int, failed: int = 0, total: int = 3) -> JobProgress:
    return JobProgress("job", "acme", "recreate", "high", total, posted, failed)


def test_events_are_read_back_in_order_after_the_last_one_seen() -> None:
    client = fakeredis.FakeRedis()
    stream = ProgressStream(client, retention_seconds=60)
    stream.publish("job", [("accepted", {"total": 3}), ("queued", {"ahead": 7})])
    stream.publish_progress(progress(1), {})
    events = stream.read("job")
    assert [e.type for e in events] == ["accepted", "queued", "progress"]
    assert events[2].data == {"posted": 1, "failed": 0, "total": 3}
    assert [e.type for e in stream.read("job", after=events[0].id)] == ["queued", "progress"]
    assert stream.read("job", after=events[-1].id) == []
    assert 0 < client.ttl(stream_key("job")) <= 60


def test_a_posting_tells_failures_then_counts_then_done_when_nothing_is_pending() -> None:
    stream = ProgressStream(fakeredis.FakeRedis(), retention_seconds=60)
    stream.publish_progress(progress(1), {})
    stream.publish_progress(progress(2, failed=1), {"bad-1": "no rule"})
    assert [(e.type, e.data) for e in stream.read("job")] == [
        ("progress", {"posted": 1, "failed": 0, "total": 3}),
        ("failed", {"document_id": "bad-1", "reason": "no rule"}),
        ("progress", {"posted": 2, "failed": 1, "total": 3}),
        ("done", {"posted": 2, "failed": 1, "total": 3}),
    ]


def test_counts_read_by_concurrent_batches_come_out_growing_and_done_once() -> None:
    """Two batches of a job commit; the one that read all of it publishes first."""
    stream = ProgressStream(fakeredis.FakeRedis(), retention_seconds=60)
    stream.publish_progress(progress(3), {})  # read after both commits
    stream.publish_progress(progress(2), {})  # read between them, published late
    stream.publish_progress(progress(3), {})  # the other batch, also reading all
    assert [(e.type, e.data["posted"]) for e in stream.read("job")] == [
        ("progress", 3),
        ("done", 3),
    ]
    assert progress_events(progress(1)) == [("progress", {"posted": 1, "failed": 0, "total": 3})]


def test_a_redis_outage_loses_events_not_the_job() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    ProgressStream(fakeredis.FakeRedis(server=server), 60).publish("job", [("accepted", {})])
