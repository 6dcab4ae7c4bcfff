"""Per-organization rate limits: a token bucket in Redis, shared by every dispatcher."""

from __future__ import annotations

import logging
from contextlib import suppress
from decimal import Decimal

import redis

from accounting.volatile import keys

log = logging.getLogger(__name__)


# Refill by elapsed time, then take up to ARGV[3] whole tokens; returns how many were taken.
# The bucket holds one second of tokens (at least one), so a burst never exceeds the rate.
_TAKE = """
local rate = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local burst = math.max(1, rate)
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(bucket[1]) or burst
local ts = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local take = math.min(want, math.floor(tokens))
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - take), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return take
"""


class RateLimiter:
    def __init__(self, client: redis.Redis) -> None:
        self._take = client.register_script(_TAKE)
        self._client = client

    def take(self, org_id: str, rate_per_second: Decimal, wanted: int) -> int:
        """Up to ``wanted`` documents the organization may post now. Without Redis, none: a
        throttled organization waits rather than overrun its limit."""
        try:
            return int(
                self._take(keys=[keys.RATE_LIMIT + org_id], args=[str(rate_per_second), wanted])
            )
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable, holding %s back: %s", org_id, exc)
            return 0

    def take_now(self, key: str, rate_per_second: Decimal, wanted: int) -> int:
        """Up to ``wanted`` tokens of the bucket at ``key`` (its own key, not an
        organization's); a Redis error is raised: the caller decides what it means."""
        return int(self._take(keys=[key], args=[str(rate_per_second), wanted]))

    def give_back(self, org_id: str, unused: int) -> None:
        if unused > 0:
            with suppress(redis.RedisError):  # then the tokens are lost for this second only
                self._client.hincrbyfloat(keys.RATE_LIMIT + org_id, "tokens", unused)
