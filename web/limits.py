"""Per-token rate limits of the HTTP API: a token bucket in Redis (shared by every server
process), keyed by the token's fingerprint. Without Redis the answer is 503, never an
unlimited pass: the recreate would need Redis anyway."""

from __future__ import annotations

import math
from decimal import Decimal
from functools import cache

from fastapi import HTTPException, status
from redis.exceptions import RedisError

from accounting import runtime
from accounting.config import get_settings
from accounting.volatile import keys
from accounting.volatile.ratelimit import RateLimiter
from web.tickets import unavailable


@cache
def _limiter() -> RateLimiter:
    return RateLimiter(runtime.redis_client())


def recreate_allowed(fingerprint: str) -> None:
    """One recreate of the token's allowance, or 429 with ``Retry-After`` (seconds)."""
    rate = get_settings().recreate_requests_per_second
    try:
        taken = _limiter().take_now(keys.RECREATE_RATE + fingerprint, Decimal(str(rate)), 1)
    except RedisError as exc:
        raise unavailable(exc) from exc
    if not taken:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"over {rate:g} recreates per second with this token "
            "(ACCOUNTING_RECREATE_REQUESTS_PER_SECOND): try again later",
            headers={"Retry-After": str(max(1, math.ceil(1 / rate)))},
        )
