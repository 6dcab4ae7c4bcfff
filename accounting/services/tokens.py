"""Use cases of API tokens: make one for an organization, list, revoke, and resolve one."""

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


def list_tokens(uow: UnitOfWork, org_id: str) -> list[TokenRow]:
    with uow:
        uow.organizations.get_or_raise(org_id)
        return uow.tokens.list(org_id)


def revoke_token(uow: UnitOfWork, org_id: str, fingerprint: str) -> None:
    with uow:
        if not uow.tokens.revoke(org_id, fingerprint):
            raise InvalidSetting(f"no live token {fingerprint!r} in organization {org_id!r}")
        uow.commit()


def organization_of(uow: UnitOfWork, token: str) -> str | None:
    """The organization a token opens, or None (unknown or revoked)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    with uow:
        return uow.tokens.organization_of(digest(token))
