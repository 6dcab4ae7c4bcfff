"""The wire contract of the public tasks: their names, their queues, the payload version.

These names never change: workers of any later version take them. A producer in another
language sends the same messages (Celery's message protocol 2, JSON): the task name, the
arguments below, and the queue."""

from __future__ import annotations

#: ``accounting.upsert_documents(org_id, documents, schema=PAYLOAD_SCHEMA)``.
UPSERT_DOCUMENTS = "accounting.upsert_documents"
#: ``accounting.recreate(org_id, document_ids, requested_by=None, schema=PAYLOAD_SCHEMA)``.
RECREATE = "accounting.recreate"

#: The payload version this client writes. The policy: workers accept every version from 1
#: (an omitted ``schema``) to their own, forever; a bump only ever adds optional fields, so a
#: producer that never sends ``schema`` keeps working across every bump.
PAYLOAD_SCHEMA = 2

HIGH_QUEUE = "accounting.high"
NORMAL_QUEUE = "accounting.normal"
#: Kombu's Redis priorities: 0 is taken first.
URGENT = 0
#: A recreate of at most this many documents is posted inline by the high pool (the fast
#: path); a larger one is taken in by the normal pool, and its documents posted on the high
#: lane (the workers' ACCOUNTING_FAST_PATH_MAX_DOCUMENTS, 50 by default, decides; this is the
#: client's default guess of it).
SMALL_RECREATE = 50


def recreate_queue(document_ids: int, small_recreate: int = SMALL_RECREATE) -> str:
    """Where a recreate of this many documents goes: the high pool takes the small ones."""
    return HIGH_QUEUE if document_ids <= small_recreate else NORMAL_QUEUE
