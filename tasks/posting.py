"""Internal task: post one batch of document versions handed out by the dispatcher."""

from __future__ import annotations

import time
from typing import Any

from accounting import runtime
from accounting.domain.lanes import Lane
from accounting.services import posting
from tasks import telemetry
from tasks.app import app
from tasks.base import AccountingTask
from tasks.payloads import upgrade_post_batch


@app.task(name="accounting.post_batch", base=AccountingTask, bind=True, ignore_result=True)
def post_batch(self: AccountingTask, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``post_batch(org_id, versions, schema=2, lane=..., dispatched_at=...)``; version-1
    messages (no lane, no dispatch time) are accepted too: see tasks.payloads."""
    delivery = self.request.delivery_info or {}
    payload = upgrade_post_batch(args, kwargs, delivery.get("routing_key"))
    waited = payload.waited_seconds(time.time())
    result = posting.post_batch(
        runtime.units(), payload.org_id, dict(payload.versions), matrices=runtime.matrix_cache()
    )
    telemetry.record_posting(payload.lane or Lane.NORMAL, result)
    lane = str(payload.lane) if payload.lane else "unknown"
    return {**result.as_dict(), "lane": lane, "waited_seconds": waited}
