"""The HTTP service on real Postgres and Redis, through its ASGI interface: a token opens one
organization, the queue view moves with the work, a job's events replay after a reconnect."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from accounting import runtime
from accounting.services import documents as documents_service
from accounting.services import organizations as organizations_service
from accounting.services import posting, tokens
from accounting.services import recreate as recreate_service
from accounting.volatile.progress import ProgressStream
from web.app import create_app

from helpers import invoice


def sse(text: str) -> list[dict[str, Any]]:
    """The events of a Server-Sent Events body: id, event, data."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append({**fields, "data": json.loads(fields["data"])})
    return events


def test_without_a_valid_token_every_v1_path_is_refused(
    api: TestClient, acme: dict[str, str], uow: Any
) -> None:
    assert api.get("/v1/orgs/acme/queue").status_code == 401
    refused = api.get("/v1/orgs/acme/queue", headers={"Authorization": "Bearer acc_nope"})
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    token = tokens.create_token(uow(), "acme", "to revoke")
    fingerprint = tokens.list_tokens(uow(), "acme")[-1].fingerprint
    tokens.revoke_token(uow(), "acme", fingerprint)
    fresh = TestClient(create_app())  # a new process: no token cached
    assert (
        fresh.get("/v1/orgs/acme/queue", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


def test_a_token_sees_only_its_organization(
    api: TestClient, acme: dict[str, str], uow: Any
) -> None:
    assert api.get("/v1/orgs/acme/queue", headers=acme).status_code == 200
    for path in ("/v1/orgs/globex/queue", "/v1/orgs/nobody/queue"):
        assert api.get(path, headers=acme).json() == {"detail": "not found"}
    assert api.post("/v1/orgs/globex/pause", headers=acme).status_code == 404
    assert not organizations_service.organization(uow(), "globex").paused
    documents_service.upsert_documents(
        uow(), "globex", [invoice("g-1")], max_documents=9, job_id="gjob"
    )
    assert api.get("/v1/jobs/gjob", headers=acme).status_code == 404
    assert api.get("/v1/jobs/gjob/events", headers=acme).status_code == 404
    assert api.post("/v1/jobs/gjob/cancel", headers=acme).status_code == 404


def test_the_queue_view_moves_with_the_work(
    api: TestClient, acme: dict[str, str], uow: Any
) -> None:
    documents_service.upsert_documents(
        uow(), "acme", [invoice(f"i-{n}") for n in range(4)], max_documents=9, job_id="sync-1"
    )
    view = api.get("/v1/orgs/acme/queue", headers=acme).json()
    assert view["lanes"]["normal"]["pending"] == 4 and view["lanes"]["high"]["pending"] == 0
    assert [(j["job_id"], j["pending"], j["ahead"]) for j in view["jobs"]] == [("sync-1", 4, 0)]
    posting.post_documents(uow(), "acme", {f"i-{n}": 1 for n in range(4)})
    view = api.get("/v1/orgs/acme/queue", headers=acme).json()
    assert (view["lanes"]["normal"]["pending"], view["posted"], view["jobs"]) == (0, 4, [])
    paused = api.post("/v1/orgs/acme/pause", headers=acme).json()
    assert paused["paused"] is True
    assert api.post("/v1/orgs/acme/resume", headers=acme).json()["paused"] is False


def test_a_recreate_body_is_checked_before_anything_is_sent(
    api: TestClient, acme: dict[str, str]
) -> None:
    for body in ({"document_ids": []}, {"document_ids": ["x" * 129]}, {"document_ids": "inv-1"}):
        refused = api.post("/v1/orgs/acme/recreate", headers=acme, json=body)
        assert refused.status_code == 422, body
        assert "document_ids" in refused.text


def test_a_reconnecting_reader_gets_every_missed_event_once_in_order(
    api: TestClient, acme: dict[str, str], uow: Any
) -> None:
    documents_service.upsert_documents(
        uow(), "acme", [invoice("i-1")], max_documents=9, job_id="job-7"
    )
    stream = ProgressStream(runtime.redis_client(), 60)
    stream.publish("job-7", [("accepted", {"total": 1}), ("queued", {"ahead": 0})])
    stream.publish(
        "job-7", [("progress", {"posted": 0}), ("progress", {"posted": 1}), ("done", {"posted": 1})]
    )
    whole = sse(api.get("/v1/jobs/job-7/events", headers=acme).text)
    assert [e["event"] for e in whole] == ["accepted", "queued", "progress", "progress", "done"]
    resumed = sse(
        api.get("/v1/jobs/job-7/events", headers=acme | {"Last-Event-ID": whole[1]["id"]}).text
    )
    assert resumed == whole[2:]
    ticket = api.post("/v1/jobs/job-7/ticket", headers=acme).json()["ticket"]
    by_query = api.get(f"/v1/jobs/job-7/events?last_event_id={whole[3]['id']}&ticket={ticket}")
    assert sse(by_query.text) == whole[4:]


def test_a_job_can_be_read_and_a_recreate_cancelled(
    api: TestClient, acme: dict[str, str], uow: Any
) -> None:
    documents_service.upsert_documents(uow(), "acme", [invoice("i-1")], max_documents=9)
    posting.post_documents(uow(), "acme", {"i-1": 1})
    recreate_service.request_recreate(uow(), "acme", ["i-1"], hold_seconds=None, job_id="r-1")
    assert api.get("/v1/jobs/r-1", headers=acme).json()["pending"] == 1
    cancelled = api.post("/v1/jobs/r-1/cancel", headers=acme).json()
    assert cancelled["taken_back"] == 1 and cancelled["job"]["done"] is True
    documents_service.upsert_documents(
        uow(), "acme", [invoice("i-2")], max_documents=9, job_id="s-1"
    )
    assert api.post("/v1/jobs/s-1/cancel", headers=acme).status_code == 409


def test_the_openapi_schema_lists_the_paths_and_the_bearer_scheme(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    assert {
        "/v1/orgs/{org_id}/queue",
        "/v1/orgs/{org_id}/recreate",
        "/v1/orgs/{org_id}/pause",
        "/v1/orgs/{org_id}/resume",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/cancel",
        "/v1/jobs/{job_id}/events",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_metrics_parse_and_health_answers(api: TestClient, acme: dict[str, str], uow: Any) -> None:
    documents_service.upsert_documents(uow(), "acme", [invoice("i-1")], max_documents=9)
    families = {f.name: f for f in text_string_to_metric_families(api.get("/metrics").text)}
    assert "accounting_pending_documents" in families and "accounting_audit_findings" in families
    pending = {s.labels["lane"]: s.value for s in families["accounting_pending_documents"].samples}
    assert pending["normal"] == 1
    assert api.get("/healthz").json() == {"ok": True}


def test_a_recreate_while_the_broker_is_down_asks_to_try_again(
    api: TestClient, acme: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kombu.exceptions import OperationalError

    from tasks.app import app

    def unreachable(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to redis: Connection refused")

    monkeypatch.setattr(app, "send_task", unreachable)
    refused = api.post("/v1/orgs/acme/recreate", headers=acme, json={"document_ids": ["i-1"]})
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "queue is unavailable" in refused.json()["detail"]


def test_health_names_what_is_down_but_not_its_host_or_driver_message(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accounting import runtime

    def refused() -> Any:
        raise ConnectionError("Error 111 connecting to 10.0.0.7:6380. Connection refused.")

    monkeypatch.setattr(runtime, "redis_client", refused)
    answer = api.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"ok": False, "redis": "unavailable"}
