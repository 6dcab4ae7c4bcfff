"""Internal task: post one batch of document versions handed out by the dispatcher."""

from __future__ import annotations

from typing import Any

from accounting import posting, runtime
from accounting.errors import PermanentError, TransientError
from accounting.scheduler import Batch
from celeryconfig import HIGH_QUEUE, NORMAL_QUEUE
from tasks.app import app
from tasks.base import PAYLOAD_SCHEMA, AccountingTask, require_text


@app.task(name="accounting.post_batch", base=AccountingTask, bind=True, ignore_result=True)
def post_batch(
    self: AccountingTask, org_id: str, versions: dict[str, int], schema: int = PAYLOAD_SCHEMA
) -> dict[str, Any]:
    require_text("org_id", org_id)
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
    return result.as_dict()


def publish_batch(batch: Batch) -> None:
    """How the dispatcher hands a batch to the workers: the high lane or the normal one."""
    post_batch.apply_async(
        args=(batch.org_id, batch.versions),
        kwargs={"schema": PAYLOAD_SCHEMA},
        queue=HIGH_QUEUE if batch.high else NORMAL_QUEUE,
        routing_key=HIGH_QUEUE if batch.high else NORMAL_QUEUE,
    )
