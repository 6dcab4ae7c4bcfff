"""SQL of operator actions: a row per change an operator made by hand, only ever added."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class OperatorActionRow:
    id: int
    at: dt.datetime
    actor: str
    org_id: str
    document_id: str | None
    action: str
    detail: dict[str, Any]


class OperatorActionRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def record(
        self,
        *,
        actor: str,
        org_id: str,
        document_id: str | None,
        action: str,
        detail: dict[str, Any],
    ) -> int:
        action_id: int = self.connection.execute(
            text(
                """
                INSERT INTO operator_actions (actor, org_id, document_id, action, detail)
                VALUES (:actor, :org_id, :document_id, :action, CAST(:detail AS jsonb))
                RETURNING id
                """
            ),
            {
                "actor": actor,
                "org_id": org_id,
                "document_id": document_id,
                "action": action,
                "detail": json.dumps(detail),
            },
        ).scalar_one()
        return action_id

    def of_organization(self, org_id: str, limit: int = 100) -> list[OperatorActionRow]:
        """The organization's latest actions, newest first."""
        rows = self.connection.execute(
            text(
                """
                SELECT id, at, actor, org_id, document_id, action, detail FROM operator_actions
                 WHERE org_id = :org_id ORDER BY at DESC, id DESC LIMIT :limit
                """
            ),
            {"org_id": org_id, "limit": limit},
        ).all()
        return [OperatorActionRow(*row) for row in rows]
