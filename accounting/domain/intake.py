"""Intake the workers could not apply: a message kept whole, to be sent again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DeadMessage:
    """A message kept whole (``args`` None: refused for its size, not kept)."""

    id: int
    task_id: str
    task_name: str
    org_id: str | None
    args: list[Any] | None
    kwargs: dict[str, Any] | None
    reason: str
    deliveries: int
    recorded_at: dt.datetime
    retried_at: dt.datetime | None
