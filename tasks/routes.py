"""Where each task message goes, and in which order a pool takes what waits for it.

The high pool takes only what must be fast: a user's small recreate, which the fast path posts
inline, and the high lane's batches, bounded by its window. A large recreate's request (new
versions for thousands of documents, the job) is taken in by the normal pool, ahead of its
batches; its documents are then dispatched on the high lane. And the broker keeps messages of
different priorities in separate lists, a worker taking the most urgent first (kombu's Redis
transport; a speed-up, never relied on for correctness): in the high pool a small recreate
goes ahead of the high lane's batches. So a tenant flooding the high lane delays another's
one-document recreate by at most one batch."""

from __future__ import annotations

from typing import Any

from accounting.config import get_settings
from accounting.domain.lanes import Lane

#: Kombu's Redis priorities: 0 is taken first.
URGENT, BULK = 0, 9


def route(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any) -> Any:
    """Celery's ``task_routes`` entry: the queue, and the priority by the request's size."""
    if name == "accounting.recreate":
        ids = args[1] if args and len(args) > 1 else (kwargs or {}).get("document_ids")
        small = isinstance(ids, list) and len(ids) <= get_settings().fast_path_max_documents
        return {"queue": (Lane.HIGH if small else Lane.NORMAL).queue, "priority": URGENT}
    if name in ("accounting.upsert_documents", "accounting.post_batch"):
        return {"queue": Lane.NORMAL.queue}
    return None


def batch_priority(lane: Lane) -> int:
    """A high-lane batch waits behind the small recreates of its pool."""
    return BULK if lane is Lane.HIGH else URGENT
