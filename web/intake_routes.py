"""``POST /v1/orgs/{org_id}/documents``: a sync over HTTP. The documents are validated as the
``accounting.upsert_documents`` task validates them and stored in Postgres before the answer,
so a 202 is durable: nothing waits in a broker. The commit wakes the dispatcher and announces
the job, as the task's does."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accounting import runtime
from accounting.config import get_settings
from accounting.errors import JobIdTaken
from accounting.services import documents as document_service
from accounting_impact_client.limits import MAX_ID_LENGTH
from web.auth import TokenOrg, check_org
from web.bodies import parse_json, read_limited

router = APIRouter(prefix="/v1")

JobId = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]


class IntakeRequest(BaseModel):
    """Documents as ``accounting.upsert_documents`` takes them (money as decimal strings), and
    the job id to follow them by: send the same one again to repeat the call safely."""

    model_config = ConfigDict(extra="forbid")

    documents: list[Any]
    job_id: JobId | None = None


class Rejected(BaseModel):
    document_id: str | None
    field: str
    message: str


class IntakeAccepted(BaseModel):
    """Stored: ``changed`` documents wait to be posted (follow ``/v1/jobs/{job_id}/events``);
    ``unchanged`` ones had that content already, ``stale`` ones an older revision than stored;
    ``rejected`` ones were not stored, each with the field and why."""

    job_id: str
    changed: list[str]
    unchanged: list[str]
    stale: list[str]
    rejected: list[Rejected]


@router.post(
    "/orgs/{org_id}/documents",
    response_model=IntakeAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": IntakeRequest.model_json_schema()}},
        }
    },
    responses={409: {"description": "the job_id is another job's"}, 413: {}, 422: {}},
)
async def post_documents(org_id: str, request: Request, token_org: TokenOrg) -> IntakeAccepted:
    """Create or update documents, stored before the answer (at most
    ``ACCOUNTING_MAX_DOCUMENTS_PER_CALL`` documents, 50,000 lines, a 4 MiB body). Bad
    documents are listed under ``rejected`` and the good ones stored; repeating the call with
    the same ``job_id`` stores nothing new and announces nothing twice."""
    check_org(org_id, token_org)
    settings = get_settings()
    body = _request(parse_json(await read_limited(request, settings.max_message_bytes)))
    job_id = body.job_id or str(uuid.uuid4())
    try:
        result = await run_in_threadpool(
            document_service.upsert_documents,
            runtime.unit_of_work(),
            org_id,
            body.documents,
            max_documents=settings.max_documents_per_call,
            job_id=job_id,
        )
    except JobIdTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return IntakeAccepted(job_id=job_id, **result.as_dict())


def _request(payload: Any) -> IntakeRequest:
    """The body checked as FastAPI checks a declared one: 422 naming each field at fault."""
    try:
        return IntakeRequest.model_validate(payload)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from exc
