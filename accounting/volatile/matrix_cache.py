"""The posting-matrix cache: an in-process LRU in front of Redis, in front of Postgres.

Entries are keyed by (organization, matrix version, when that version was published). A
published version is immutable, so an entry can never be stale: publishing changes the key,
not the value. Redis may lose everything or be down: the cache then reads Postgres.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import redis

from accounting.domain.matrix import PostingMatrix, Rule
from accounting.volatile import keys

#: Versions never change; the TTL only lets Redis forget organizations no longer posting.
REDIS_TTL_SECONDS = 7 * 24 * 3600


@dataclass
class CacheStats:
    local_hits: int = 0
    redis_hits: int = 0
    misses: int = 0
    redis_errors: int = 0

    def since(self, earlier: CacheStats) -> dict[str, int]:
        """Hits (either level), misses and Redis errors since ``earlier`` (for the metrics)."""
        return {
            "hits": self.local_hits + self.redis_hits - earlier.local_hits - earlier.redis_hits,
            "misses": self.misses - earlier.misses,
            "errors": self.redis_errors - earlier.redis_errors,
        }


def matrix_key(org_id: str, version: int, published_at: dt.datetime | None) -> str:
    stamp = "" if published_at is None else f"{published_at.timestamp():.6f}"
    return f"{keys.MATRIX}{org_id}:{version}:{stamp}"


class MatrixCache:
    def __init__(
        self,
        redis_client: Callable[[], redis.Redis | None] = lambda: None,
        max_entries: int = 256,
    ) -> None:
        self._entries: OrderedDict[str, PostingMatrix] = OrderedDict()
        self._redis = redis_client
        self._max_entries = max_entries
        self.stats = CacheStats()

    def get(self, key: str, load: Callable[[], PostingMatrix]) -> PostingMatrix:
        matrix = self._entries.get(key)
        if matrix is not None:
            self.stats.local_hits += 1
            self._entries.move_to_end(key)
            return matrix
        matrix = self._from_redis(key)
        if matrix is not None:
            self.stats.redis_hits += 1
        else:
            self.stats.misses += 1
            matrix = load()
            self._to_redis(key, matrix)
        self._remember(key, matrix)
        return matrix

    def _remember(self, key: str, matrix: PostingMatrix) -> None:
        self._entries[key] = matrix
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def _from_redis(self, key: str) -> PostingMatrix | None:
        try:
            client = self._redis()
            raw = client.get(key) if client is not None else None
        except redis.RedisError:
            self.stats.redis_errors += 1
            return None
        if raw is None:
            return None
        # Written by _to_redis below, not by people: no validation on the hot path.
        org_id, version, rules = json.loads(raw)
        return PostingMatrix(org_id, version, {(t, c, g): Rule(d, k) for t, c, g, d, k in rules})

    def _to_redis(self, key: str, matrix: PostingMatrix) -> None:
        rules = [[*key, rule.debit, rule.credit] for key, rule in matrix.rules.items()]
        payload = [matrix.org_id, matrix.version, rules]
        try:
            client = self._redis()
            if client is not None:
                client.set(key, json.dumps(payload), ex=REDIS_TTL_SECONDS)
        except redis.RedisError:
            self.stats.redis_errors += 1
