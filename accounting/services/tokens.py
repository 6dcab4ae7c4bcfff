"""Use cases of API tokens: make one for an organization (or an admin one, which opens only
the onboarding endpoints), list, revoke, and resolve one."""

from __future__ import annotations

import hashlib
import secrets

from accounting.errors import InvalidSetting
from accounting.store.tokens import TokenRow
from accounting.store.uow import UnitOfWork

PREFIX = "acc_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(uow: UnitOfWork, org_id: str, label: str | None = None) -> str:
    """A new token for the organization; shown once, only its SHA-256 is stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    with uow:
        uow.organizations.get_or_raise(org_id)
        uow.tokens.add(org_id, digest(token), label)
        uow.commit()
    return token


def create_admin_token(uow: UnitOfWork, label: str | None = None) -> str:
    """A new admin token: it creates organizations and sets up their charts and matrices over
    HTTP, and opens no organization's data. Shown once, only its SHA-256 is stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    with uow:
        uow.tokens.add_admin(digest(token), label)
        uow.commit()
    return token


def list_tokens(uow: UnitOfWork, org_id: str | None) -> list[TokenRow]:
    """The organization's tokens, or with None the admin tokens."""
    with uow:
        if org_id is not None:
            uow.organizations.get_or_raise(org_id)
        return uow.tokens.list(org_id)


def revoke_token(uow: UnitOfWork, org_id: str | None, fingerprint: str) -> None:
    """Revoke one of the organization's tokens, or with None an admin token."""
    with uow:
        if not uow.tokens.revoke(org_id, fingerprint):
            owner = f"in organization {org_id!r}" if org_id is not None else "among admin tokens"
            raise InvalidSetting(f"no live token {fingerprint!r} {owner}")
        uow.commit()


def is_admin(uow: UnitOfWork, token: str) -> bool:
    """Whether the token is a live admin token."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return False
    with uow:
        return uow.tokens.is_admin(digest(token))


def organization_of(uow: UnitOfWork, token: str) -> str | None:
    """The organization a token opens, or None (unknown or revoked)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    with uow:
        return uow.tokens.organization_of(digest(token))
