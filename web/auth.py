"""Bearer tokens: each opens one organization. An organization it does not open is "not
found", so a token never learns which other organizations exist."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from accounting import runtime
from accounting.config import get_settings
from accounting.services import tokens


class TokenCache:
    """Tokens checked in the last few seconds: a revoke takes effect within that time."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._known: dict[str, tuple[str | None, float]] = {}

    def organization_of(self, token: str) -> str | None:
        cached = self._known.get(token)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        org_id = tokens.organization_of(runtime.unit_of_work(), token)
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[token] = (org_id, time.monotonic() + self._ttl)
        return org_id


_cache = TokenCache(get_settings().api_auth_cache_seconds)


_bearer = HTTPBearer(scheme_name="bearer", auto_error=False)


def authenticated_org(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    # EventSource cannot send headers: the status page passes the token in the query.
    token = credentials.credentials if credentials else request.query_params.get("access_token")
    org_id = _cache.organization_of(token) if token else None
    if org_id is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is needed",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return org_id


TokenOrg = Annotated[str, Depends(authenticated_org)]


def not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "not found")


def check_org(org_id: str, token_org: str) -> None:
    if org_id != token_org:
        raise not_found()
