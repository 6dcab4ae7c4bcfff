"""One Redis reader per server process for every SSE follower.

Each follower subscribes to its job's stream from its own cursor and gets its own queue. One
reader task per event loop XREADs every followed stream at once and hands each entry to the
followers of its stream; a follower that joins late (or reconnects with ``Last-Event-ID``)
first reads what it missed with one XRANGE on a small command pool. So a process holds at most
1 + COMMAND_CONNECTIONS Redis connections, whatever the number of followers (a hosted Redis
caps connections: seed 004), and every follower sees every event once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from accounting.volatile import keys
from accounting.volatile.progress import Event, parse_event

log = logging.getLogger(__name__)
#: How long the reader waits for entries before it looks for newly followed streams.
READ_BLOCK_MS = 200
#: Connections for the late followers' catch-up reads.
COMMAND_CONNECTIONS = 2
CLIENT_NAME = keys.SSE_CLIENT_NAME
#: Entries read per stream and call.
READ_COUNT = 500


def order(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


@dataclass(eq=False)
class Follower:
    """One SSE connection: what it has been handed, in order, from ``last`` on."""

    key: str
    last: str
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    #: Entries the reader handed while the follower was still catching up.
    _held: list[Event] | None = field(default_factory=list)

    def offer(self, event: Event) -> None:
        if self._held is not None:
            self._held.append(event)
        elif order(event.id) > order(self.last):
            self.last = event.id
            self.queue.put_nowait(event)

    def caught_up(self, missed: list[Event]) -> None:
        held, self._held = self._held or [], None
        for event in [*missed, *held]:
            self.offer(event)


class StreamHub:
    """The followers of one event loop and the reader that feeds them."""

    def __init__(self, url: str) -> None:
        self._reader = aioredis.Redis.from_url(url, client_name=CLIENT_NAME)
        self._commands = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                url, max_connections=COMMAND_CONNECTIONS, timeout=None, client_name=CLIENT_NAME
            )
        )
        self._followers: dict[str, set[Follower]] = {}
        self._cursors: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    async def follow(self, key: str, after: str) -> Follower:
        """A follower of ``key`` from ``after`` ("0": the whole stream)."""
        follower = Follower(key, after)
        followers = self._followers.setdefault(key, set())
        if not followers:
            self._cursors[key] = after
        followers.add(follower)  # from now on it is handed every entry the reader reads
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._read_forever())
        entries: Any = await self._commands.xrange(key, min=f"({after}", max="+")
        follower.caught_up([parse_event(entry_id, fields) for entry_id, fields in entries])
        if follower.last and order(follower.last) > order(self._cursors.get(key, "0")):
            self._cursors[key] = follower.last  # the reader need not read that again
        return follower

    def leave(self, follower: Follower) -> None:
        followers = self._followers.get(follower.key)
        if followers is None:
            return
        followers.discard(follower)
        if not followers:
            del self._followers[follower.key]
            self._cursors.pop(follower.key, None)

    async def close(self) -> None:
        """Stop the reader and close the hub's connections (the server is stopping)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._reader.aclose()
        await self._commands.aclose()
        await self._commands.connection_pool.disconnect()

    async def _read_forever(self) -> None:
        while self._followers:
            try:
                streams: dict[Any, Any] = dict(self._cursors)
                replies: Any = await self._reader.xread(
                    streams, block=READ_BLOCK_MS, count=READ_COUNT
                )
            except Exception as exc:  # Redis restarting: the cursors say where to go on
                log.warning("SSE reader: %s", exc)
                await asyncio.sleep(1.0)
                continue
            for raw_key, entries in replies or []:
                key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
                for entry_id, fields in entries:
                    event = parse_event(entry_id, fields)
                    if key in self._cursors:
                        self._cursors[key] = event.id
                    for follower in list(self._followers.get(key, ())):
                        follower.offer(event)


#: One hub per event loop: its connections belong to the loop that opened them.
_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StreamHub] = weakref.WeakKeyDictionary()


def hub(url: Callable[[], str]) -> StreamHub:
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = StreamHub(url())
    return found


async def close_hub() -> None:
    """The running loop's hub, if it has one, closed (at the server's shutdown)."""
    found = _hubs.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found.close()
