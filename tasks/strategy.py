"""How a worker takes a message in: Celery's default strategy, but a message over the size
limit is refused before its body is decoded (a 1 MB sync took 620 MB in a pool process). The
refusal is kept as dead intake, with its size and the limit, and the message acknowledged."""

from __future__ import annotations

import logging
import re
from typing import Any

from celery.worker.strategy import default

from accounting import runtime
from accounting.config import get_settings
from accounting.errors import PermanentError
from accounting.services.intake import keep_dead_message
from tasks.base import refuse_job

log = logging.getLogger(__name__)

#: The organization, read off the start of a message's body without decoding it.
_ORG = re.compile(r'^\s*\[\s*\[\s*"([^"\\]{1,128})"')


def _size(message: Any) -> int:
    """The body's size in bytes (kombu has undone the transport's encoding, not the JSON)."""
    return len(message.body or b"")


def _start(message: Any) -> str:
    """The first few hundred characters of the body."""
    start = message.body[:300]
    return start.decode(errors="replace") if isinstance(start, bytes) else str(start)


class MessageTooLarge(PermanentError):
    """The message is larger than a worker takes."""


def guarded(task: Any, app: Any, consumer: Any, **kwargs: Any) -> Any:
    handle = default(task, app, consumer, **kwargs)
    limit = get_settings().max_message_bytes

    def on_message(
        message: Any, body: Any, ack: Any, reject: Any, callbacks: Any, **kw: Any
    ) -> Any:
        size = _size(message)
        if size <= limit:
            return handle(message, body, ack, reject, callbacks, **kw)
        _refuse(app, message, size, limit)
        ack(log, consumer.connection_errors)
        return None

    return on_message


def _refuse(app: Any, message: Any, size: int, limit: int) -> None:
    headers = message.headers or {}
    task_id, task_name = str(headers.get("id")), str(headers.get("task"))
    reason = (
        f"a message of {size:,} bytes is over the {limit:,}-byte limit "
        "(ACCOUNTING_MAX_MESSAGE_BYTES): split the call"
    )
    log.error("task %s[%s] refused: %s", task_name, task_id, reason)
    found = _ORG.match(_start(message))
    try:
        keep_dead_message(
            runtime.unit_of_work(),
            task_id=task_id,
            task_name=task_name,
            args=None,
            kwargs=None,
            reason=reason,
            org_id=None if found is None else found[1],
        )
    except Exception as exc:  # refused either way: never decoded, never run
        log.error("refusal of %s not recorded: %s", task_id, exc)
    # The job's followers are told, then the sender waiting on the result learns why at once.
    refuse_job(task_name, task_id, None if found is None else found[1], MessageTooLarge(reason))
    try:
        app.backend.mark_as_failure(task_id, MessageTooLarge(reason))
    except Exception as exc:
        log.error("refusal of %s not stored as its result: %s", task_id, exc)
