"""The naive baseline the throughput bench compares against: one Celery task and one
transaction per document (run it with ``ACCOUNTING_MATRIX_CACHE=false`` and no dispatcher, so
the matrix is read from Postgres every time). Not used by the product itself."""

from __future__ import annotations

from typing import Any

from accounting import runtime
from accounting.services import posting
from tasks.app import app
from tasks.base import AccountingTask
from tasks.payloads import require_text


@app.task(name="accounting.baseline_post_document", base=AccountingTask, ignore_result=True)
def post_document(org_id: str, document_id: str, version: int) -> dict[str, Any]:
    require_text("org_id", org_id)
    require_text("document_id", document_id)
    result = posting.post_documents(
        runtime.unit_of_work(), org_id, {document_id: version}, matrices=runtime.matrix_cache()
    )
    return result.as_dict()
