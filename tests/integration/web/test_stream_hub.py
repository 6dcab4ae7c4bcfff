"""One Redis reader per server process: many followers of many jobs each get every event of
their job once and in order, from their own cursor, through at most three connections."""

from __future__ import annotations

import asyncio

import redis

from accounting.volatile.progress import ProgressStream, stream_key
from web.stream_hub import CLIENT_NAME, COMMAND_CONNECTIONS, Follower, StreamHub

JOBS, FOLLOWERS_PER_JOB, EVENTS = 5, 40, 30


def hub_connections(client: redis.Redis) -> int:
    """The hubs' connections to this test's database (CLIENT LIST spans a server shared with
    other test runs on other databases)."""
    db = str(client.connection_pool.connection_kwargs.get("db", 0))
    return sum(
        1 for c in client.client_list() if c.get("name") == CLIENT_NAME and str(c.get("db")) == db
    )


async def received(follower: Follower, count: int) -> list[int]:
    seen = []
    while len(seen) < count:
        event = await asyncio.wait_for(follower.queue.get(), 10)
        seen.append(event.data["n"])
    return seen


def test_every_follower_gets_every_event_once_in_order_through_one_reader(
    redis_client: redis.Redis, redis_url: str
) -> None:
    stream = ProgressStream(redis_client, retention_seconds=600)
    jobs = [f"job-{n}" for n in range(JOBS)]
    for job in jobs:  # history a follower from "0" must be given first
        stream.publish(job, [("progress", {"n": n}) for n in range(10)])

    async def scenario() -> tuple[list[list[int]], int]:
        hub = StreamHub(redis_url)
        followers = [
            await hub.follow(stream_key(job), "0") for job in jobs for _ in range(FOLLOWERS_PER_JOB)
        ]
        for n in range(10, EVENTS):  # live events while they follow
            for job in jobs:
                stream.publish(job, [("progress", {"n": n})])
            await asyncio.sleep(0)
        seen = [await received(f, EVENTS) for f in followers]
        connections = hub_connections(redis_client)
        for follower in followers:
            hub.leave(follower)
        await hub.close()
        return seen, connections

    seen, connections = asyncio.run(scenario())
    assert all(events == list(range(EVENTS)) for events in seen)
    assert 1 <= connections <= 1 + COMMAND_CONNECTIONS


def test_a_follower_that_resumes_gets_only_what_it_missed(
    redis_client: redis.Redis, redis_url: str
) -> None:
    stream = ProgressStream(redis_client, retention_seconds=600)
    stream.publish("job-r", [("progress", {"n": n}) for n in range(5)])
    third = redis_client.xrange(stream_key("job-r"))[2][0].decode()

    async def scenario() -> list[int]:
        hub = StreamHub(redis_url)
        early = await hub.follow(stream_key("job-r"), "0")
        assert await received(early, 5) == [0, 1, 2, 3, 4]
        resumed = await hub.follow(stream_key("job-r"), third)  # reconnects after event 2
        stream.publish("job-r", [("progress", {"n": 5})])
        assert await received(early, 1) == [5]
        missed = await received(resumed, 3)
        await hub.close()
        return missed

    assert asyncio.run(scenario()) == [3, 4, 5]
