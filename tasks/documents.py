"""Public tasks an application calls: upsert documents (normal lane), recreate (high lane)."""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

from accounting import posting, runtime, services
from accounting.config import get_settings
from accounting.errors import TransientError
from tasks import progress_events, telemetry
from tasks.app import app
from tasks.base import PAYLOAD_SCHEMA, AccountingTask, require_list, require_text
from tasks.payloads import accepted_schema

log = logging.getLogger(__name__)


@app.task(name="accounting.upsert_documents", base=AccountingTask, bind=True)
def upsert_documents(
    self: AccountingTask, org_id: str, documents: list[Any], schema: int = 1
) -> dict[str, Any]:
    """Create or update documents; changed ones become pending and are posted by the workers.
    The call is a job (its id is this task's id) whose progress can be followed.

    Returns ``{"job_id": ..., "changed": [...], "unchanged": [...], "stale": [...],
    "rejected": [{document_id, field, message}]}``: bad documents are reported and not
    stored, good ones are stored.
    """
    accepted_schema("accounting.upsert_documents", schema)
    require_text("org_id", org_id)
    require_list("documents", documents)
    settings = get_settings()
    job_id = self.request.id
    result = services.upsert_documents(
        runtime.unit_of_work(),
        org_id,
        documents,
        max_documents=settings.max_documents_per_call,
        job_id=job_id,
    )
    if result.rejected:
        log.warning("org %s: %d documents rejected", org_id, len(result.rejected))
    if result.changed:
        runtime.wakeup().notify()
    if job_id is not None:
        progress_events.accepted(job_id, org_id, "sync", len(result.changed))
        progress_events.queued(job_id)
    return {"schema": PAYLOAD_SCHEMA, "job_id": job_id, **result.as_dict()}


@app.task(name="accounting.recreate", base=AccountingTask, bind=True)
def recreate(
    self: AccountingTask,
    org_id: str,
    document_ids: list[Any],
    requested_by: str | None = None,
    schema: int = 1,
) -> dict[str, Any]:
    """Recreate the entries of ``document_ids`` at high priority. The job id is this task's id.

    Small recreates are posted right here (the fast path); larger ones, ones the fast path could
    not finish and those of a paused organization are dispatched ahead of all normal-lane work.
    """
    accepted_schema("accounting.recreate", schema)
    require_text("org_id", org_id)
    ids = [require_text("document_ids[]", i) for i in require_list("document_ids", document_ids)]
    if requested_by is not None:  # informational: cut short, but never unstorable
        short = requested_by[:200] if isinstance(requested_by, str) else requested_by
        requested_by = require_text("requested_by", short, max_length=200)
    settings = get_settings()
    fast = 0 < len(set(ids)) <= settings.fast_path_max_documents
    hold = settings.fast_path_hold_seconds if fast else None
    job_id = self.request.id
    requested = services.request_recreate(
        runtime.unit_of_work(),
        org_id,
        ids,
        hold_seconds=hold,
        high_lane=settings.scheduling != "fifo",  # the FIFO baseline has one queue only
        job_id=job_id,
        requested_by=requested_by,
    )
    if job_id is not None:
        progress_events.accepted(job_id, org_id, "recreate", len(requested.versions))
    posted: list[str] = []
    failed: dict[str, str] = {}
    if requested.paused and fast:
        _hand_back(org_id, list(requested.versions))  # queued until the organization resumes
    elif fast and requested.versions:
        try:
            outcome = posting.post_documents(runtime.unit_of_work(), org_id, requested.versions)
            posted, failed = outcome.posted, outcome.failed
            telemetry.record_posting("high", outcome)
            progress_events.moved(outcome.jobs)
        except Exception as exc:
            log.warning("fast path of job %s fell back to the queue: %s", self.request.id, exc)
            _hand_back(org_id, list(requested.versions))
    if len(posted) + len(failed) < len(requested.versions):
        runtime.wakeup().notify()
        if job_id is not None:
            progress_events.queued(job_id)
    log.info("recreate job %s by %s: %d posted inline", self.request.id, requested_by, len(posted))
    return {
        "schema": PAYLOAD_SCHEMA,
        "job_id": self.request.id,
        "paused": requested.paused,
        "requested": len(requested.versions),
        "posted": posted,
        "failed": failed,
        "queued": len(requested.versions) - len(posted) - len(failed),
        "rejected": [error.as_dict() for error in requested.rejected],
    }


def _hand_back(org_id: str, document_ids: list[str]) -> None:
    # If this fails too, their hold expires on its own and the dispatcher takes them then.
    with suppress(TransientError):
        services.release_documents(runtime.unit_of_work(), org_id, document_ids)
