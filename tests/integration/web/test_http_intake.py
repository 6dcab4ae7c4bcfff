"""``POST /v1/orgs/{org}/documents`` on real Postgres and Redis: stored before the 202, the
dispatcher woken, the job announced once however often the call is repeated, bad documents
listed, bad requests refused naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from accounting import runtime
from accounting.services import documents as documents_service
from accounting.volatile import keys
from accounting.volatile.progress import ProgressStream

from helpers import count, invoice


def test_documents_are_stored_before_the_answer_and_the_dispatcher_is_woken(
    api: TestClient, acme: dict[str, str], engine: Engine, redis_client: Any
) -> None:
    bad = {**invoice("inv-2"), "lines": [{"quantity": "1", "unit_price": 9.5, "tax_rate": "0"}]}
    body = {"documents": [invoice("inv-1"), bad], "job_id": "http-1"}
    answer = api.post("/v1/orgs/acme/documents", headers=acme, json=body)
    assert answer.status_code == 202
    assert answer.json() == {
        "job_id": "http-1",
        "changed": ["inv-1"],
        "unchanged": [],
        "stale": [],
        "rejected": [
            {
                "document_id": "inv-2",
                "field": "lines.0.unit_price",
                "message": "money must be a decimal string, not a float",
            }
        ],
    }
    pending = "SELECT count(*) FROM documents WHERE org_id = 'acme' AND ready_version = 1"
    assert count(engine, pending) == 1
    assert redis_client.llen(keys.WAKE) == 1
    events = ProgressStream(runtime.redis_client(), 60).read("http-1")
    assert [e.type for e in events] == ["accepted", "rejected", "queued"]


def test_repeating_a_call_with_its_job_id_stores_and_announces_nothing_new(
    api: TestClient, acme: dict[str, str], engine: Engine
) -> None:
    body = {"documents": [invoice("inv-1")], "job_id": "http-2"}
    first = api.post("/v1/orgs/acme/documents", headers=acme, json=body)
    events = ProgressStream(runtime.redis_client(), 60).read("http-2")
    again = api.post("/v1/orgs/acme/documents", headers=acme, json=body)
    assert (first.status_code, again.status_code) == (202, 202)
    assert (first.json()["changed"], again.json()["unchanged"]) == (["inv-1"], ["inv-1"])
    assert ProgressStream(runtime.redis_client(), 60).read("http-2") == events
    assert count(engine, "SELECT count(*) FROM jobs") == 1
    assert count(engine, "SELECT max(ready_version) FROM documents") == 1


def test_without_a_job_id_each_call_is_a_job_of_its_own(
    api: TestClient, acme: dict[str, str]
) -> None:
    ids = {
        api.post("/v1/orgs/acme/documents", headers=acme, json={"documents": []}).json()["job_id"]
        for _ in range(2)
    }
    assert len(ids) == 2
    job = api.get(f"/v1/jobs/{ids.pop()}", headers=acme).json()
    assert (job["kind"], job["total"], job["done"]) == ("sync", 0, True)


def test_a_bad_request_is_refused_naming_the_field_and_nothing_is_stored(
    api: TestClient, acme: dict[str, str], engine: Engine
) -> None:
    refusals = {
        "documents": {"documents": {"id": "inv-1"}},
        "job_id": {"documents": [invoice("inv-1")], "job_id": "has spaces"},
        "source": {"documents": [invoice("inv-1")], "source": "shopify"},
    }
    for field, body in refusals.items():
        refused = api.post("/v1/orgs/acme/documents", headers=acme, json=body)
        assert refused.status_code == 422, body
        assert refused.json()["detail"][0]["loc"] == ["body", field]
    not_json = api.post("/v1/orgs/acme/documents", headers=acme, content=b"{'documents'")
    assert not_json.status_code == 422 and "not JSON" in not_json.json()["detail"]
    too_many = {"documents": [invoice(f"i-{n}") for n in range(5_001)]}
    refused = api.post("/v1/orgs/acme/documents", headers=acme, json=too_many)
    assert refused.status_code == 422 and "at most 5,000" in refused.json()["detail"]
    assert count(engine, "SELECT count(*) FROM documents") == 0


def test_another_organizations_path_or_job_id_is_refused(
    api: TestClient, acme: dict[str, str], uow: Any, engine: Engine
) -> None:
    body = {"documents": [invoice("inv-1")]}
    assert api.post("/v1/orgs/globex/documents", headers=acme, json=body).status_code == 404
    assert api.post("/v1/orgs/acme/documents", json=body).status_code == 401
    documents_service.upsert_documents(
        uow(), "globex", [invoice("g-1")], max_documents=9, job_id="globex-job"
    )
    taken = api.post("/v1/orgs/acme/documents", headers=acme, json={**body, "job_id": "globex-job"})
    assert taken.status_code == 409 and "taken" in taken.json()["detail"]
    assert count(engine, "SELECT count(*) FROM documents WHERE org_id = 'acme'") == 0


def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(
    api: TestClient, acme: dict[str, str], engine: Engine
) -> None:
    big = b'{"documents": [' + b" " * (4 * 1024 * 1024) + b"]}"
    declared = api.post("/v1/orgs/acme/documents", headers=acme, content=big)
    assert declared.status_code == 413 and "limit" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"documents": ['
        for _ in range(5):
            yield b" " * (1024 * 1024)
        yield b"]}"

    streamed = api.post("/v1/orgs/acme/documents", headers=acme, content=chunks())
    assert streamed.status_code == 413
    assert count(engine, "SELECT count(*) FROM documents") == 0


def test_the_openapi_schema_describes_the_intake_and_every_event(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    intake = schema["paths"]["/v1/orgs/{org_id}/documents"]["post"]
    body = intake["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"documents", "job_id"} and body["required"] == ["documents"]
    assert {"202", "409", "413", "422"} <= set(intake["responses"])
    described = schema["paths"]["/v1/jobs/{job_id}/events"]["get"]["description"]
    for event in ("accepted", "rejected", "queued", "progress", "failed", "done", "refused"):
        assert f"``{event}``" in described
