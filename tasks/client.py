"""How this package sends its own tasks: by their stable names, on the lane's queue. Broker
errors become :class:`TransientError` (nothing was sent: try again)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from celery import Celery
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from accounting.domain.batching import Batch
from accounting.domain.intake import DeadMessage
from accounting.errors import TransientError
from accounting_impact_client.routing import PAYLOAD_SCHEMA, RECREATE
from tasks.payloads import post_batch_message
from tasks.routes import batch_priority

POST_BATCH = "accounting.post_batch"


def send_recreate(
    app: Celery, org_id: str, document_ids: Sequence[str], requested_by: str | None
) -> str:
    """Queue a user's recreate (its lane, its queue: tasks.routes); returns its job id."""
    try:
        result = app.send_task(
            RECREATE,
            args=[org_id, list(document_ids)],
            kwargs={"requested_by": requested_by, "schema": PAYLOAD_SCHEMA},
            # Nobody reads its result: not subscribing to it keeps the result backend (whose
            # reconnects give up with a RuntimeError after seconds) out of the way.
            ignore_result=True,
        )
    except (OperationalError, RedisError, RuntimeError) as exc:
        # the broker (or the result store) is down: nothing was sent, try again
        raise TransientError(f"the queue is unavailable: {exc}") from exc
    return str(result.id)


def send_again(app: Celery, message: DeadMessage) -> None:
    """Send a kept message again, under its own task id (the job id its sender follows)."""
    try:
        app.send_task(
            message.task_name, args=message.args, kwargs=message.kwargs, task_id=message.task_id
        )
    except (OperationalError, RedisError) as exc:
        raise TransientError(f"the queue is unavailable: {exc}") from exc


def publish_batch(app: Celery, batch: Batch) -> None:
    """How the dispatcher hands a batch to the workers, on its lane's queue."""
    args, kwargs = post_batch_message(
        batch.org_id, batch.versions, lane=batch.lane, dispatched_at=time.time()
    )
    try:
        app.send_task(
            POST_BATCH,
            args=args,
            kwargs=kwargs,
            queue=batch.lane.queue,
            routing_key=batch.lane.queue,
            priority=batch_priority(batch.lane),
            task_id=batch.id,
            ignore_result=True,
        )
    except (OperationalError, RedisError) as exc:
        raise TransientError(f"the queue is unavailable: {exc}") from exc
