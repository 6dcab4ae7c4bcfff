"""The consumer slots each lane has now. Every worker announces, per lane it consumes, its
concurrency with an expiry, renewed while it runs; the dispatcher sizes its window on the sum.
A worker that dies stops counting when its announcement expires; losing everything (a Redis
flush) only shrinks the window to its floor until the next heartbeats, a few seconds later."""

from __future__ import annotations

import time

import redis

from accounting.domain.lanes import Lane
from accounting.volatile import keys

#: How long an announcement counts without being renewed.
TTL_SECONDS = 30.0


class WorkerSlots:
    """One hash per lane: worker name -> "slots expires-at" (a hash, not a key per worker, so
    reading the lane is one command whatever else Redis holds)."""

    def __init__(self, client: redis.Redis, ttl_seconds: float = TTL_SECONDS) -> None:
        self._client = client
        self._ttl = ttl_seconds

    def announce(self, lane: Lane, worker: str, slots: int) -> None:
        key = keys.WORKER_SLOTS + str(lane)
        self._client.hset(key, worker, f"{slots} {time.time() + self._ttl:.3f}")
        self._client.expire(key, int(self._ttl * 2))

    def withdraw(self, lane: Lane, worker: str) -> None:
        self._client.hdel(keys.WORKER_SLOTS + str(lane), worker)

    def live(self, lane: Lane) -> int:
        """The lane's consumer slots whose announcement has not expired (expired ones are
        removed)."""
        key = keys.WORKER_SLOTS + str(lane)
        now, total, expired = time.time(), 0, []
        for worker, value in self._client.hgetall(key).items():
            slots, expires_at = keys.text(value).split()
            if float(expires_at) < now:
                expired.append(worker)
            else:
                total += int(slots)
        if expired:
            self._client.hdel(key, *expired)
        return total
