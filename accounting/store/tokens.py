"""SQL of API tokens."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class TokenRow:
    fingerprint: str
    label: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class TokenRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, org_id: str, token_sha256: str, label: str | None) -> None:
        self.connection.execute(
            text(
                "INSERT INTO api_tokens (token_sha256, org_id, label)"
                " VALUES (:sha, :org_id, :label)"
            ),
            {"sha": token_sha256, "org_id": org_id, "label": label},
        )

    def add_admin(self, token_sha256: str, label: str | None) -> None:
        self.connection.execute(
            text(
                "INSERT INTO api_tokens (token_sha256, org_id, label, admin)"
                " VALUES (:sha, NULL, :label, true)"
            ),
            {"sha": token_sha256, "label": label},
        )

    def is_admin(self, token_sha256: str) -> bool:
        """Whether a live admin token has this hash."""
        return (
            self.connection.execute(
                text(
                    "SELECT 1 FROM api_tokens WHERE token_sha256 = :sha AND admin"
                    " AND revoked_at IS NULL"
                ),
                {"sha": token_sha256},
            ).first()
            is not None
        )

    def organization_of(self, token_sha256: str) -> str | None:
        """The organization a live token opens."""
        org_id: str | None = self.connection.execute(
            text("SELECT org_id FROM api_tokens WHERE token_sha256 = :sha AND revoked_at IS NULL"),
            {"sha": token_sha256},
        ).scalar_one_or_none()
        return org_id

    def list(self, org_id: str | None) -> list[TokenRow]:
        """The organization's tokens, or with None the admin tokens."""
        rows = self.connection.execute(
            text(
                "SELECT left(token_sha256, 12), label, created_at, revoked_at FROM api_tokens"
                " WHERE org_id IS NOT DISTINCT FROM :org_id ORDER BY created_at"
            ),
            {"org_id": org_id},
        ).all()
        return [TokenRow(*row) for row in rows]

    def revoke(self, org_id: str | None, fingerprint: str) -> int:
        """Revoke the organization's token, or with None the admin token, of this fingerprint."""
        result = self.connection.execute(
            text(
                "UPDATE api_tokens SET revoked_at = now() WHERE org_id IS NOT DISTINCT FROM :org_id"
                " AND left(token_sha256, 12) = :fingerprint AND revoked_at IS NULL"
            ),
            {"org_id": org_id, "fingerprint": fingerprint},
        )
        return int(result.rowcount)
