"""Internal task: post one batch of document versions handed out by the dispatcher."""

from __future__ import annotations

import logging
import time
from typing import Any

from accounting import posting, runtime
from accounting.errors import PermanentError, TransientError
from accounting.scheduler import Batch
from celeryconfig import HIGH_QUEUE, NORMAL_QUEUE
from tasks import progress_events, telemetry
from tasks.app import app
from tasks.base import AccountingTask
from tasks.payloads import post_batch_message, upgrade_post_batch

log = logging.getLogger(__name__)


@app.task(name="accounting.post_batch", base=AccountingTask, bind=True, ignore_result=True)
def post_batch(self: AccountingTask, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``post_batch(org_id, versions, schema=2, lane=..., dispatched_at=...)``; version-1
    messages (no lane, no dispatch time) are accepted too: see tasks.payloads."""
    delivery = self.request.delivery_info or {}
    payload = upgrade_post_batch(args, kwargs, delivery.get("routing_key"))
    waited = payload.waited_seconds(time.time())
    org_id, versions = payload.org_id, payload.versions
    try:
        result = posting.post_documents(runtime.unit_of_work(), org_id, dict(versions))
    except (TransientError, PermanentError):
        raise  # retried with backoff by Celery, or an unknown organization
    except Exception as exc:
        # Unexpected: hand the batch back for a retry, one document at a time, after a backoff.
        posting.postpone_documents(
            runtime.unit_of_work(), org_id, dict(versions), f"{type(exc).__name__}: {exc}"
        )
        raise
    finally:
        runtime.wakeup().notify()  # the window has room again
    telemetry.record_posting(payload.lane, result)
    progress_events.moved(result.jobs)
    for document_id, reason in result.failed.items():
        log.warning(
            "document %s is dead: %s", document_id, reason, extra={"document_id": document_id}
        )
    for document_id, error in result.postponed.items():
        log.warning(
            "document %s postponed: %s", document_id, error, extra={"document_id": document_id}
        )
    return {**result.as_dict(), "lane": payload.lane, "waited_seconds": waited}


def publish_batch(batch: Batch) -> None:
    """How the dispatcher hands a batch to the workers: the high lane or the normal one."""
    args, kwargs = post_batch_message(
        batch.org_id, batch.versions, high=batch.high, dispatched_at=time.time()
    )
    post_batch.apply_async(
        args=args,
        kwargs=kwargs,
        queue=HIGH_QUEUE if batch.high else NORMAL_QUEUE,
        routing_key=HIGH_QUEUE if batch.high else NORMAL_QUEUE,
    )
