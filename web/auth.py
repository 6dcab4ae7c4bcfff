"""Bearer tokens: each opens one organization. An organization it does not open is "not
found", so a token never learns which other organizations exist. An admin token opens no
organization, only the onboarding endpoints (``web.admin_routes``); a tenant token is refused
there with 403."""

from __future__ import annotations

import time
from typing import Annotated, NamedTuple

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from accounting import runtime
from accounting.config import get_settings
from accounting.services import tokens


class Access(NamedTuple):
    """What a bearer token opens: its organization (None: none), whether it is an admin
    token, and its fingerprint (a digest: what limits and logs may name)."""

    org_id: str | None
    admin: bool
    fingerprint: str


class TokenCache:
    """Tokens checked in the last few seconds: a revoke takes effect within that time."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._known: dict[str, tuple[Access, float]] = {}

    def organization_of(self, token: str) -> str | None:
        return self.access(token).org_id

    def is_admin(self, token: str) -> bool:
        return self.access(token).admin

    def access(self, token: str) -> Access:
        cached = self._known.get(token)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        org_id = tokens.organization_of(runtime.unit_of_work(), token)
        admin = org_id is None and tokens.is_admin(runtime.unit_of_work(), token)
        if len(self._known) > 10_000:
            self._known.clear()
        found = Access(org_id, admin, tokens.digest(token)[:16])
        self._known[token] = (found, time.monotonic() + self._ttl)
        return found


_cache = TokenCache(get_settings().api_auth_cache_seconds)


_bearer = HTTPBearer(scheme_name="bearer", auto_error=False)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    scheme, _, token = (authorization or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def access_of(token: str | None) -> Access | None:
    """What ``token`` opens, or None when it opens nothing (no token, unknown, revoked)."""
    if not token:
        return None
    found = _cache.access(token)
    return found if found.org_id is not None or found.admin else None


def unauthorized(detail: str = "a valid bearer token is needed") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def request_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Access | None:
    """The request's token, as ``web.guard`` resolved it before the body was read (requests
    with a body), else looked up now. Never from the query: URLs are logged."""
    resolved = getattr(request.state, "access", None)
    if isinstance(resolved, Access):
        return resolved
    return access_of(credentials.credentials if credentials else None)


RequestAccess = Annotated[Access | None, Depends(request_access)]


def authenticated_org(access: RequestAccess) -> str:
    if access is None or access.org_id is None:
        raise unauthorized()
    return access.org_id


def tenant_access(access: RequestAccess) -> Access:
    """A tenant token's access (401 otherwise)."""
    if access is None or access.org_id is None:
        raise unauthorized()
    return access


TokenOrg = Annotated[str, Depends(authenticated_org)]


def authenticated_admin(access: RequestAccess) -> None:
    """Admin tokens only: 401 without a valid token, 403 for an organization's token."""
    if access is not None and access.admin:
        return
    if access is not None and access.org_id is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "an admin token is needed")
    raise unauthorized("a valid admin bearer token is needed")


AdminToken = Depends(authenticated_admin)


def not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "not found")


def check_org(org_id: str, token_org: str) -> None:
    if org_id != token_org:
        raise not_found()
