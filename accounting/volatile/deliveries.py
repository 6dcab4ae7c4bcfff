"""How each message fared on its deliveries: starts that never finished (a worker process
killed under it, by the OOM killer or a native crash) and its first transient failure.

Kept in Redis per task id, for a day: losing it costs a poison message a few more deliveries,
or a retry window restarted, never a message."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import redis

from accounting.volatile import keys

log = logging.getLogger(__name__)

TTL_SECONDS = 2 * 24 * 3600


class Deliveries:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def started(self, task_id: str) -> int:
        """Count a start; returns how many earlier starts of this message never finished."""
        key = keys.DELIVERIES + task_id
        try:
            pipe = self._client.pipeline()
            pipe.hincrby(key, "started", 1)
            pipe.hget(key, "finished")
            pipe.expire(key, TTL_SECONDS)
            started, finished, _ = pipe.execute()
        except redis.RedisError as exc:
            log.warning("deliveries of %s not counted: %s", task_id, exc)
            return 0
        return int(started) - 1 - int(finished or 0)

    def finished(self, task_id: str) -> None:
        try:
            self._client.hincrby(keys.DELIVERIES + task_id, "finished", 1)
        except redis.RedisError as exc:
            log.warning("delivery of %s not counted: %s", task_id, exc)

    def first_failure(self, task_id: str) -> float:
        """When this message first failed transiently (epoch seconds); now, the first time."""
        now = time.time()
        key = keys.DELIVERIES + task_id
        try:
            pipe = self._client.pipeline()
            pipe.hsetnx(key, "first_failure", now)
            pipe.hget(key, "first_failure")
            pipe.expire(key, TTL_SECONDS)
            _, first, _ = pipe.execute()
        except redis.RedisError:
            return now
        return float(first)

    def forget(self, task_ids: Iterable[str]) -> None:
        """Start counting again: an operator sent these messages again on purpose."""
        names = [keys.DELIVERIES + task_id for task_id in task_ids]
        if names:
            try:
                self._client.delete(*names)
            except redis.RedisError as exc:
                log.warning("deliveries not reset: %s", exc)
