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


class BatchTask(AccountingTask):
    """A batch's documents are in Postgres already: given up on, they are postponed one by one
    (each is then posted alone, so one poison document cannot hold its neighbours back), and
    after too many failed postings a document is dead with its reason."""

    def give_up(self, args: Any, kwargs: Any, reason: str, deliveries: int | None = None) -> None:
        payload = upgrade_post_batch(args, kwargs)
        posting.postpone_documents(
            runtime.unit_of_work(), payload.org_id, dict(payload.versions), reason
        )


@app.task(name="accounting.post_batch", base=BatchTask, bind=True, ignore_result=True)
def post_batch(self: BatchTask, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``post_batch(org_id, versions, schema=2, lane=..., dispatched_at=...)``; version-1
    messages (no lane, no dispatch time) are accepted too: see tasks.payloads."""
    delivery = self.request.delivery_info or {}
    payload = upgrade_post_batch(args, kwargs, delivery.get("routing_key"))
    lane = payload.lane or Lane.NORMAL
    if self.request.id is not None:  # delivered, not called as a function
        runtime.outstanding().started(self.request.id, lane)
    result = posting.post_batch(
        runtime.units(), payload.org_id, dict(payload.versions), matrices=runtime.matrix_cache()
    )
    telemetry.record_posting(lane, result)
    waited = payload.waited_seconds(time.time())
    return {**result.as_dict(), "lane": str(payload.lane or "unknown"), "waited_seconds": waited}
