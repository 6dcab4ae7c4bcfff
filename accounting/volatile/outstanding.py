"""The batches the dispatcher published that no worker has started yet, per lane.

While a batch waits in the broker (its pool is down or behind), its documents' leases are
kept alive, so they are not handed out a second time: the broker holds at most the window.
Losing this record (a Redis flush loses the batches too) only lets the leases run out, and
the documents are handed out again: late, never lost, never posted twice."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import redis

from accounting.domain.batching import Batch
from accounting.domain.lanes import Lane
from accounting.volatile import keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Waiting:
    batch_id: str
    org_id: str
    document_ids: list[str]


class OutstandingBatches:
    def __init__(self, client: redis.Redis, ttl_seconds: float) -> None:
        self._client = client
        self._ttl = int(ttl_seconds)

    def published(self, batch: Batch) -> None:
        record = json.dumps([batch.org_id, sorted(batch.versions)])
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.set(keys.BATCH + batch.id, record, ex=self._ttl)
            pipe.zadd(keys.OUTSTANDING + batch.lane, {batch.id: time.time()})
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("batch %s not recorded as outstanding: %s", batch.id, exc)

    def started(self, batch_id: str, lane: Lane) -> None:
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.zrem(keys.OUTSTANDING + lane, batch_id)
            pipe.delete(keys.BATCH + batch_id)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("batch %s not recorded as started: %s", batch_id, exc)

    def waiting_since(self, lane: Lane, before: float) -> list[Waiting]:
        """Batches of ``lane`` published before ``before`` (epoch seconds) and not started."""
        found: list[bytes] = self._client.zrangebyscore(keys.OUTSTANDING + lane, 0, before)  # type: ignore[assignment]
        ids = [keys.text(i) for i in found]
        if not ids:
            return []
        records = self._client.mget([keys.BATCH + i for i in ids])
        waiting, gone = [], []
        for batch_id, record in zip(ids, records, strict=True):
            if record is None:
                gone.append(batch_id)
                continue
            org_id, document_ids = json.loads(record)
            waiting.append(Waiting(batch_id, org_id, document_ids))
        if gone:
            self._client.zrem(keys.OUTSTANDING + lane, *gone)
        return waiting

    def still_waiting(self, lane: Lane, batch_ids: list[str]) -> None:
        """Their leases were kept: look at them again a lease from now."""
        if batch_ids:
            self._client.zadd(keys.OUTSTANDING + lane, dict.fromkeys(batch_ids, time.time()))

    def forget(self, lane: Lane, batch_ids: list[str]) -> None:
        if batch_ids:
            pipe = self._client.pipeline(transaction=False)
            pipe.zrem(keys.OUTSTANDING + lane, *batch_ids)
            pipe.delete(*(keys.BATCH + i for i in batch_ids))
            pipe.execute()
