"""Job events over HTTP on real Postgres and Redis: a sync's rejections, and a request refused
before it was recorded as a job, served to the organization it names and ended there."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from test_http_api import sse

from accounting import runtime
from accounting.services import documents as documents_service
from accounting.services import tokens
from accounting.store.uow import UnitOfWork

from helpers import invoice

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def tokens_of(uow: Any, make_org: Any) -> dict[str, dict[str, str]]:
    """Headers with a token of acme, and of globex."""
    return {
        org: {"Authorization": f"Bearer {tokens.create_token(uow(), make_org(org))}"}
        for org in ("acme", "globex")
    }


def test_a_refused_job_streams_its_refusal_and_ends(
    api: TestClient, tokens_of: dict[str, dict[str, str]]
) -> None:
    from tasks.documents import upsert_documents

    upsert_documents.apply(args=["acme", [invoice("i-1")], "two"], task_id="refused-1")
    body = api.get("/v1/jobs/refused-1/events", headers=tokens_of["acme"]).text  # it ends
    (refused,) = sse(body)
    assert refused["event"] == "refused" and refused["id"]
    assert refused["data"]["org_id"] == "acme"
    assert refused["data"]["error"] == "UnsupportedPayload"
    assert "payload schema must be an integer" in refused["data"]["message"]
    assert api.get("/v1/jobs/refused-1/events", headers=tokens_of["globex"]).status_code == 404
    assert api.get("/v1/jobs/refused-1", headers=tokens_of["acme"]).status_code == 404  # no job


def test_a_refusal_naming_an_unknown_organization_is_nobodys(
    api: TestClient, tokens_of: dict[str, dict[str, str]]
) -> None:
    from tasks.documents import recreate

    recreate.apply(args=["nobody", ["i-1"]], task_id="refused-2")
    for headers in tokens_of.values():
        assert api.get("/v1/jobs/refused-2/events", headers=headers).status_code == 404


def test_a_syncs_rejections_are_streamed_before_it_is_done(
    api: TestClient, tokens_of: dict[str, dict[str, str]], engine: Engine
) -> None:
    documents_service.upsert_documents(
        UnitOfWork(engine, runtime.effects()),
        "acme",
        [{**invoice("i-1"), "currency": "EURO"}],
        max_documents=9,
        job_id="only-bad",
    )
    seen = sse(api.get("/v1/jobs/only-bad/events", headers=tokens_of["acme"]).text)
    assert [e["event"] for e in seen] == ["accepted", "rejected", "done"]
    assert seen[0]["data"]["rejected"] == 1
    assert (seen[1]["data"]["document_id"], seen[1]["data"]["field"]) == ("i-1", "currency")


def test_an_admin_token_follows_any_organizations_job(
    api: TestClient, tokens_of: dict[str, dict[str, str]], uow: Any, engine: Engine
) -> None:
    """The operator console follows jobs live with its admin token, in a header; a tenant's
    token still sees only its own organization's."""
    from accounting.services import posting

    told = lambda: UnitOfWork(engine, runtime.effects())  # noqa: E731  (as a worker's commit)
    documents_service.upsert_documents(
        told(), "acme", [invoice("i-1")], max_documents=9, job_id="j-a"
    )
    posting.post_documents(told(), "acme", {"i-1": 1})
    admin = {"Authorization": f"Bearer {tokens.create_admin_token(uow())}"}
    events = [e["event"] for e in sse(api.get("/v1/jobs/j-a/events", headers=admin).text)]
    assert events[0] == "accepted" and events[-1] == "done"
    assert api.get("/v1/jobs/j-a/events", headers=tokens_of["globex"]).status_code == 404
