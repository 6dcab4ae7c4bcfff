"""Bearer tokens: each opens one organization. An organization it does not open is "not
found", so a token never learns which other organizations exist. An admin token opens no
organization, only the onboarding endpoints (``web.admin_routes``); a tenant token is refused
there with 403."""

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
        self._known: dict[str, tuple[str | None, bool, float]] = {}

    def organization_of(self, token: str) -> str | None:
        return self._access(token)[0]

    def is_admin(self, token: str) -> bool:
        return self._access(token)[1]

    def _access(self, token: str) -> tuple[str | None, bool]:
        """The organization the token opens (None: none), and whether it is an admin token."""
        cached = self._known.get(token)
        if cached is not None and time.monotonic() < cached[2]:
            return cached[0], cached[1]
        org_id = tokens.organization_of(runtime.unit_of_work(), token)
        admin = org_id is None and tokens.is_admin(runtime.unit_of_work(), token)
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[token] = (org_id, admin, time.monotonic() + self._ttl)
        return org_id, admin


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


def authenticated_admin(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Admin tokens only: 401 without a valid token, 403 for an organization's token."""
    token = credentials.credentials if credentials else None
    if token and _cache.is_admin(token):
        return
    if token and _cache.organization_of(token) is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "an admin token is needed")
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "a valid admin bearer token is needed",
        headers={"WWW-Authenticate": "Bearer"},
    )


AdminToken = Depends(authenticated_admin)


def not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "not found")


def check_org(org_id: str, token_org: str) -> None:
    if org_id != token_org:
        raise not_found()
