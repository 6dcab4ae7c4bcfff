"""Wake-ups for the dispatcher over Redis: a nudge that may be lost (polling backs it up)."""

from __future__ import annotations

import logging
import time

import redis

from accounting.volatile import keys

log = logging.getLogger(__name__)


class Wakeup:
    """A one-slot Redis list: ``notify`` pushes, the dispatcher's ``wait`` pops. Works through
    any Redis (no pub/sub connection to keep) and costs one key however much work arrives."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def notify(self) -> None:
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.lpush(keys.WAKE, 1)
            pipe.ltrim(keys.WAKE, 0, 0)
            pipe.execute()
        except redis.RedisError as exc:
            # Redis is a fast lane that may lose everything; the dispatcher polls anyway.
            log.warning("could not wake the dispatcher: %s", exc)

    def wait(self, timeout: float) -> bool:
        """Block until notified (True) or ``timeout`` seconds pass (False)."""
        try:
            return self._client.blpop([keys.WAKE], timeout=timeout) is not None
        except redis.RedisError as exc:
            log.warning("dispatcher wake-up channel unavailable: %s", exc)
            time.sleep(timeout)  # fall back to plain polling, never to a busy loop
            return False
