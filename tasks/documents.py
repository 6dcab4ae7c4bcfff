"""Public tasks an application calls: upsert documents (normal lane), recreate (high lane)."""

from __future__ import annotations

import logging
from typing import Any

from accounting import runtime
from accounting.config import get_settings
from accounting.domain.lanes import Lane
from accounting.services import documents as document_service
from accounting_impact_client import routing
from accounting_impact_client.routing import PAYLOAD_SCHEMA
from tasks import telemetry
from tasks.app import app
from tasks.base import AccountingTask
from tasks.payloads import (
    accepted_schema,
    refuse_unknown_arguments,
    requested_by_text,
    require_document_ids,
    require_list,
    require_text,
)

log = logging.getLogger(__name__)


@app.task(name=routing.UPSERT_DOCUMENTS, base=AccountingTask, bind=True)
def upsert_documents(
    self: AccountingTask,
    org_id: str,
    documents: list[Any],
    schema: int = 1,
    *unexpected: Any,
    **unknown: Any,
) -> dict[str, Any]:
    """Create or update documents; changed ones become pending and are posted by the workers.
    The call is a job (its id is this task's id) whose progress can be followed.

    Returns ``{"job_id": ..., "changed": [...], "unchanged": [...], "stale": [...],
    "rejected": [{document_id, field, message}]}``: bad documents are reported and not
    stored, good ones are stored. Arguments it does not take are refused (see tasks.payloads).
    """
    accepted_schema("accounting.upsert_documents", schema)
    refuse_unknown_arguments("accounting.upsert_documents", schema, unexpected, unknown)
    require_text("org_id", org_id)
    result = document_service.upsert_documents(
        runtime.unit_of_work(),
        org_id,
        require_list("documents", documents),
        max_documents=get_settings().max_documents_per_call,
        job_id=self.request.id,
    )
    if result.rejected:
        log.warning("org %s: %d documents rejected", org_id, len(result.rejected))
    return {"schema": PAYLOAD_SCHEMA, "job_id": self.request.id, **result.as_dict()}


@app.task(name=routing.RECREATE, base=AccountingTask, bind=True)
def recreate(
    self: AccountingTask,
    org_id: str,
    document_ids: list[Any],
    requested_by: str | None = None,
    schema: int = 1,
    *unexpected: Any,
    **unknown: Any,
) -> dict[str, Any]:
    """Recreate the entries of ``document_ids`` at high priority. The job id is this task's id.
    Small recreates are posted right here (see accounting.services.fast_path)."""
    accepted_schema("accounting.recreate", schema)
    refuse_unknown_arguments("accounting.recreate", schema, unexpected, unknown)
    require_text("org_id", org_id)
    ids = require_document_ids(document_ids)
    outcome = runtime.fast_path().recreate(
        org_id, ids, job_id=self.request.id, requested_by=requested_by_text(requested_by)
    )
    if outcome.inline is not None:
        telemetry.record_posting(Lane.HIGH, outcome.inline)
    log.info("recreate job %s: %d posted inline", self.request.id, len(outcome.posted))
    return {"schema": PAYLOAD_SCHEMA, "job_id": self.request.id, **outcome.as_dict()}
