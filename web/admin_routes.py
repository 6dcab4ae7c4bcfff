"""The onboarding endpoints, for admin tokens only (``accounting token create --admin``):
create an organization, import its chart of accounts, draft and publish its posting matrix.
The same use cases as ``accounting org create``, ``account import`` and ``matrix draft`` /
``publish``; a tenant token is refused with 403, a bad body with 422 naming the field."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from accounting import runtime
from accounting.domain.chart import MAX_ACCOUNTS, chart_from_json
from accounting.domain.matrix import matrix_from_json
from accounting.services import matrices, organizations
from web.auth import AdminToken

#: Larger than any chart or matrix written by hand; a larger body is refused unread (413).
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_RULES = 10_000


def limited_body(request: Request) -> None:
    """Refuse a body whose declared size is above :data:`MAX_BODY_BYTES` before reading it."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise HTTPException(413, f"at most {MAX_BODY_BYTES:,} bytes")


router = APIRouter(
    prefix="/v1", tags=["onboarding"], dependencies=[AdminToken, Depends(limited_body)]
)

Row = dict[str, Any]


class NewOrganization(BaseModel):
    id: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(min_length=1, max_length=500)]
    functional_currency: Annotated[str, Field(min_length=3, max_length=3)]
    accounts: Annotated[list[Row], Field(max_length=MAX_ACCOUNTS)] = []


class Chart(BaseModel):
    accounts: Annotated[list[Row], Field(min_length=1, max_length=MAX_ACCOUNTS)]


class ChartImported(BaseModel):
    added: list[str]
    renamed: list[str]
    unchanged: list[str]


class MatrixRules(BaseModel):
    rules: Annotated[list[Row], Field(min_length=1, max_length=MAX_RULES)]


class PublishRequest(BaseModel):
    recreate: bool = False


class MatrixVersionView(BaseModel):
    org_id: str
    version: int
    recreated: int = 0


class OrganizationCreated(BaseModel):
    org_id: str
    functional_currency: str
    accounts: int


@router.post("/orgs", response_model=OrganizationCreated, status_code=status.HTTP_201_CREATED)
def create_organization(body: NewOrganization) -> OrganizationCreated:
    """Create an organization, with its chart of accounts if ``accounts`` is given."""
    chart = chart_from_json(body.accounts) if body.accounts else []
    currency = body.functional_currency.upper()
    organizations.onboard_organization(runtime.unit_of_work(), body.id, body.name, currency, chart)
    return OrganizationCreated(org_id=body.id, functional_currency=currency, accounts=len(chart))


@router.put("/orgs/{org_id}/accounts", response_model=ChartImported)
def import_accounts(org_id: str, body: Chart) -> ChartImported:
    """Add the accounts the chart lacks and rename those whose name changed; a bad row or a
    kind that would change is refused (422) and nothing is written."""
    result = organizations.import_chart(
        runtime.unit_of_work(), org_id, chart_from_json(body.accounts)
    )
    return ChartImported(
        added=list(result.added), renamed=list(result.renamed), unchanged=list(result.unchanged)
    )


@router.post("/orgs/{org_id}/matrix/draft", response_model=MatrixVersionView)
def draft_matrix(org_id: str, body: MatrixRules) -> MatrixVersionView:
    """Store the rules as the draft, replacing the draft there is."""
    rules = matrix_from_json(org_id, body.model_dump())
    version = matrices.save_matrix_draft(runtime.unit_of_work(), org_id, rules)
    return MatrixVersionView(org_id=org_id, version=version)


@router.post("/orgs/{org_id}/matrix/publish", response_model=MatrixVersionView)
def publish_matrix(org_id: str, body: PublishRequest | None = None) -> MatrixVersionView:
    """Publish the draft if it covers every component the documents use (422 listing every
    gap otherwise)."""
    recreate = body.recreate if body is not None else False
    result = matrices.publish_draft(runtime.unit_of_work(), org_id, recreate=recreate)
    return MatrixVersionView(org_id=org_id, version=result.version, recreated=result.recreated)
