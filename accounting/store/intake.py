"""SQL of dead intake: messages kept whole because they could not be applied."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from accounting.domain.intake import DeadMessage

_COLUMNS = (
    "id, task_id, task_name, org_id, args, kwargs, reason, deliveries, recorded_at, retried_at"
)


class IntakeRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def record(
        self,
        *,
        task_id: str,
        task_name: str,
        org_id: str | None,
        args: Sequence[Any] | None,
        kwargs: dict[str, Any] | None,
        reason: str,
        deliveries: int,
    ) -> None:
        """Keep a message; the same message recorded again (redelivered) updates its reason."""
        self.connection.execute(
            text(
                """
                INSERT INTO dead_intake
                       (task_id, task_name, org_id, args, kwargs, reason, deliveries)
                VALUES (:task_id, :task_name, :org_id, CAST(:args AS jsonb),
                        CAST(:kwargs AS jsonb), :reason, :deliveries)
                ON CONFLICT (task_id) DO UPDATE
                   SET reason = EXCLUDED.reason, deliveries = EXCLUDED.deliveries,
                       recorded_at = now(), retried_at = NULL
                """
            ),
            {
                "task_id": task_id,
                "task_name": task_name,
                "org_id": org_id,
                "args": None if args is None else json.dumps(list(args)),
                "kwargs": None if kwargs is None else json.dumps(kwargs),
                "reason": reason,
                "deliveries": deliveries,
            },
        )

    def listed(self, org_id: str | None, limit: int, *, retried: bool) -> list[DeadMessage]:
        """The organization's dead messages (all organizations' when None), newest first."""
        rows = self.connection.execute(
            text(
                f"""
                SELECT {_COLUMNS} FROM dead_intake
                 WHERE (CAST(:org_id AS text) IS NULL OR org_id = CAST(:org_id AS text))
                   AND (:retried OR retried_at IS NULL)
                 ORDER BY recorded_at DESC, id DESC
                 LIMIT :limit
                """
            ),
            {"org_id": org_id, "limit": limit, "retried": retried},
        ).all()
        return [DeadMessage(*row) for row in rows]

    def take_for_retry(self, org_id: str, ids: Sequence[int] | None) -> list[DeadMessage]:
        """Mark the organization's dead messages (the given ones, or all not yet retried) as
        retried and return them, to be sent again."""
        rows = self.connection.execute(
            text(
                f"""
                UPDATE dead_intake SET retried_at = now()
                 WHERE org_id = :org_id AND retried_at IS NULL AND args IS NOT NULL
                   AND (CAST(:ids AS bigint[]) IS NULL OR id = ANY(CAST(:ids AS bigint[])))
                RETURNING {_COLUMNS}
                """
            ),
            {"org_id": org_id, "ids": None if ids is None else list(ids)},
        ).all()
        return [DeadMessage(*row) for row in sorted(rows)]

    def count(self) -> int:
        """Dead messages not yet retried, for the metrics (a small table: an index scan)."""
        return int(
            self.connection.execute(
                text("SELECT count(*) FROM dead_intake WHERE retried_at IS NULL")
            ).scalar_one()
        )
