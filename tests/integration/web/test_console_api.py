"""The operator console's API (``/v1/admin/...``) on real Postgres and Redis, through its ASGI
interface: admin tokens only, and each endpoint's filters."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accounting import demo_data
from accounting.services import documents as documents_service
from accounting.services import intake as intake_service
from accounting.services import matrices, posting, tokens
from accounting.services import recreate as recreate_service

from helpers import invoice, versions

PAYOUT = {
    "id": "po-1",
    "type": "payout",
    "date": "2026-03-02",
    "currency": "EUR",
    "gross": "100.00",
    "fees": "1.40",
    "net": "98.60",
    "group": "stripe",
}


@pytest.fixture
def admin(uow: Any, make_org: Any) -> dict[str, str]:
    """An admin token, as headers; acme and globex exist."""
    make_org("acme")
    make_org("globex")
    return {"Authorization": f"Bearer {tokens.create_admin_token(uow(), 'console')}"}


def upsert(uow: Any, org: str, *documents: dict[str, Any], job_id: str | None = None) -> None:
    documents_service.upsert_documents(uow(), org, list(documents), max_documents=99, job_id=job_id)


def without_payout_rules(uow: Any, org: str) -> None:
    full = demo_data.matrix(org)
    rules = {k: r for k, r in full.rules.items() if k[0] != "payout"}
    matrices.publish_matrix(uow(), org, replace(full, rules=rules))


ADMIN_PATHS = [
    ("get", "/v1/admin/orgs", None),
    ("post", "/v1/admin/orgs/acme/pause", None),
    ("post", "/v1/admin/orgs/acme/resume", None),
    ("get", "/v1/admin/dead", None),
    ("post", "/v1/admin/dead/retry", {"org": "acme", "all": True}),
    ("get", "/v1/admin/intake", None),
    ("post", "/v1/admin/intake/retry", {"org": "acme", "all": True}),
    ("get", "/v1/admin/jobs", None),
    ("get", "/v1/admin/jobs/j1", None),
    ("get", "/v1/admin/orgs/acme/documents/inv-1", None),
]


def test_a_tenant_token_gets_403_and_no_token_401_on_every_admin_path(
    api: TestClient, admin: dict[str, str], uow: Any
) -> None:
    tenant = {"Authorization": f"Bearer {tokens.create_token(uow(), 'acme')}"}
    for method, path, body in ADMIN_PATHS:
        assert api.request(method, path, json=body, headers=tenant).status_code == 403, path
        assert api.request(method, path, json=body).status_code == 401, path
    assert api.get("/v1/orgs/acme/queue", headers=tenant).status_code == 200  # still its own
    schema = api.get("/openapi.json").json()["paths"]
    assert {path for _, path, _ in ADMIN_PATHS} - {
        p.replace("{org_id}", "acme").replace("{job_id}", "j1").replace("{document_id}", "inv-1")
        for p in schema
    } == set()
    assert api.get("/console").status_code == 200  # the page itself asks for the token


def test_organizations_show_backlog_dead_and_pause(
    api: TestClient, admin: dict[str, str], uow: Any
) -> None:
    upsert(uow, "acme", invoice("inv-1"), invoice("inv-2"))
    paused = api.post("/v1/admin/orgs/globex/pause", headers=admin).json()
    assert paused["paused"] is True
    orgs = {row["org_id"]: row for row in api.get("/v1/admin/orgs", headers=admin).json()}
    assert orgs["acme"]["pending"] == {"high": 0, "normal": 2}
    assert orgs["acme"]["oldest_pending_seconds"]["normal"] >= 0
    assert not orgs["acme"]["paused"] and orgs["globex"]["paused"]
    assert orgs["globex"]["pending"] == {"high": 0, "normal": 0}
    assert api.post("/v1/admin/orgs/globex/resume", headers=admin).json()["paused"] is False
    assert api.post("/v1/admin/orgs/nobody/pause", headers=admin).status_code == 404


def test_dead_letters_filter_by_organization_and_error_and_retry(
    api: TestClient, admin: dict[str, str], uow: Any, engine: Any
) -> None:
    for org in ("acme", "globex"):
        without_payout_rules(uow, org)
        upsert(uow, org, invoice("inv-1"), PAYOUT, {**PAYOUT, "id": "po-2"})
        posting.post_documents(uow(), org, {"inv-1": 1, "po-1": 1, "po-2": 1})
    everyone = api.get("/v1/admin/dead", headers=admin).json()
    assert [(d["org_id"], d["document_id"]) for d in everyone] == [
        ("acme", "po-1"),
        ("acme", "po-2"),
        ("globex", "po-1"),
        ("globex", "po-2"),
    ]
    assert "payout" in everyone[0]["error"] and everyone[0]["version"] == 1
    acme = api.get("/v1/admin/dead", params={"org": "acme", "error": "PAYOUT"}, headers=admin)
    assert [d["document_id"] for d in acme.json()] == ["po-1", "po-2"]
    assert api.get("/v1/admin/dead", params={"error": "no such text"}, headers=admin).json() == []
    assert api.get("/v1/admin/dead", params={"error": "%"}, headers=admin).json() == []  # literal
    assert len(api.get("/v1/admin/dead", params={"limit": 1}, headers=admin).json()) == 1

    one = api.post(
        "/v1/admin/dead/retry", json={"org": "acme", "document_ids": ["po-1"]}, headers=admin
    )
    assert one.json() == {"revived": 1}
    assert versions(engine, "acme", "po-1") == (1, 0, 0)
    assert versions(engine, "acme", "po-2") == (1, 0, 1)
    unmatched = {"org": "globex", "error": "nothing like it", "all": True}
    assert api.post("/v1/admin/dead/retry", json=unmatched, headers=admin).json()["revived"] == 0
    matched = {"org": "globex", "error": "payout", "all": True}
    assert api.post("/v1/admin/dead/retry", json=matched, headers=admin).json()["revived"] == 2
    assert versions(engine, "globex", "po-2") == (1, 0, 0)
    assert versions(engine, "acme", "po-2") == (1, 0, 1)  # another organization's: untouched


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/admin/dead", {"limit": 501}),
        ("/v1/admin/dead", {"limit": 0}),
        ("/v1/admin/intake", {"limit": 1000}),
        ("/v1/admin/jobs", {"limit": 501}),
        ("/v1/admin/jobs", {"state": "lost"}),
        ("/v1/admin/jobs", {"kind": "export"}),
        ("/v1/admin/jobs", {"since": "yesterday"}),
        ("/v1/admin/jobs/j1", {"after": "x"}),
    ],
)
def test_bad_filters_are_a_422_naming_the_parameter(
    api: TestClient, admin: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    response = api.get(path, params=params, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", next(iter(params))]


@pytest.mark.parametrize(
    "body",
    [
        {"org": "acme"},
        {"org": "acme", "document_ids": ["po-1"], "all": True},
        {"org": "acme", "document_ids": []},
        {"document_ids": ["po-1"]},
    ],
)
def test_a_retry_names_its_documents_or_asks_for_all(
    api: TestClient, admin: dict[str, str], body: dict[str, Any]
) -> None:
    assert api.post("/v1/admin/dead/retry", json=body, headers=admin).status_code == 422
    intake_body = {("ids" if k == "document_ids" else k): v for k, v in body.items()}
    assert api.post("/v1/admin/intake/retry", json=intake_body, headers=admin).status_code == 422


def test_dead_intake_filters_and_retry(
    api: TestClient, admin: dict[str, str], uow: Any, redis_client: Any
) -> None:
    for task_id, org, reason in [
        ("t1", "acme", "deadlock detected"),
        ("t2", "acme", "Postgres unreachable for 6 h"),
        ("t3", "globex", "deadlock detected"),
    ]:
        intake_service.keep_dead_message(
            uow(),
            task_id=task_id,
            task_name="accounting.upsert_documents",
            args=[org, [invoice("inv-9")]],
            kwargs={},
            reason=reason,
            deliveries=2,
        )
    listed = api.get("/v1/admin/intake", params={"error": "DEADLOCK"}, headers=admin).json()
    assert sorted(m["task_id"] for m in listed) == ["t1", "t3"]
    assert listed[0]["deliveries"] == 2 and listed[0]["kept_whole"]
    acme = api.get("/v1/admin/intake", params={"org": "acme"}, headers=admin).json()
    assert sorted(m["task_id"] for m in acme) == ["t1", "t2"]

    sent = api.post(
        "/v1/admin/intake/retry",
        json={"org": "acme", "error": "deadlock", "all": True},
        headers=admin,
    ).json()["sent"]
    assert [m["task_id"] for m in sent] == ["t1"]
    left = api.get("/v1/admin/intake", params={"org": "acme"}, headers=admin).json()
    assert [m["task_id"] for m in left] == ["t2"]
    with_retried = api.get(
        "/v1/admin/intake", params={"org": "acme", "retried": True}, headers=admin
    ).json()
    assert sorted(m["task_id"] for m in with_retried) == ["t1", "t2"]
    by_id = api.post(
        "/v1/admin/intake/retry", json={"org": "acme", "ids": [left[0]["id"]]}, headers=admin
    ).json()["sent"]
    assert [m["task_id"] for m in by_id] == ["t2"]


def test_jobs_are_found_by_id_organization_kind_state_and_time_with_their_events(
    api: TestClient, admin: dict[str, str], uow: Any
) -> None:
    from accounting import runtime
    from accounting.store.uow import UnitOfWork

    def told() -> Any:  # commits that publish job events, as the workers' do
        return UnitOfWork(runtime.engine(), runtime.effects())

    upsert(told, "acme", invoice("inv-1"), invoice("inv-2"), job_id="sync-acme")
    upsert(told, "globex", invoice("g-1"), job_id="sync-globex")
    posting.post_documents(told(), "acme", {"inv-1": 1, "inv-2": 1})
    recreate_service.request_recreate(
        told(), "acme", ["inv-1"], hold_seconds=None, job_id="rec-acme"
    )

    def found(**params: Any) -> list[str]:
        response = api.get("/v1/admin/jobs", params=params, headers=admin)
        assert response.status_code == 200, response.text
        return [job["job_id"] for job in response.json()]

    assert found() == ["rec-acme", "sync-globex", "sync-acme"]  # newest first
    assert found(org="acme") == ["rec-acme", "sync-acme"]
    assert found(kind="recreate") == ["rec-acme"]
    assert found(org="acme", state="done") == ["sync-acme"]
    assert found(state="open") == ["rec-acme", "sync-globex"]
    assert found(state="failed") == []
    assert found(id="sync-globex") == ["sync-globex"]
    assert found(limit=1) == ["rec-acme"]
    assert found(since="2999-01-01T00:00:00Z") == []
    assert found(since="2000-01-01T00:00:00Z", org="globex") == ["sync-globex"]

    detail = api.get("/v1/admin/jobs/sync-acme", headers=admin).json()
    assert detail["job"]["posted"] == 2 and detail["job"]["done"]
    types = [event["type"] for event in detail["events"]]
    assert types[0] == "accepted" and types[-1] == "done"
    after = detail["events"][0]["id"]
    rest = api.get("/v1/admin/jobs/sync-acme", params={"after": after}, headers=admin).json()
    assert [e["id"] for e in rest["events"]] == [e["id"] for e in detail["events"][1:]]
    assert api.get("/v1/admin/jobs/nope", headers=admin).status_code == 404

    without_payout_rules(uow, "globex")
    upsert(told, "globex", PAYOUT, job_id="fail-globex")
    posting.post_documents(told(), "globex", {"po-1": 1})
    assert found(state="failed") == ["fail-globex"]
    assert found(state="done", org="globex") == ["fail-globex"]


def test_a_document_shows_its_versions_state_and_entry_sets(
    api: TestClient, admin: dict[str, str], uow: Any
) -> None:
    upsert(uow, "acme", invoice("inv-1"))
    posting.post_documents(uow(), "acme", {"inv-1": 1})
    upsert(uow, "acme", invoice("inv-1", unit_price="250.00"))
    posting.post_documents(uow(), "acme", {"inv-1": 2})
    view = api.get("/v1/admin/orgs/acme/documents/inv-1", headers=admin).json()
    assert view["state"] == "posted"
    assert (view["ready_version"], view["posted_version"], view["failed_version"]) == (2, 2, 0)
    assert [(s["document_version"], s["status"]) for s in view["active"]] == [(2, "active")]
    assert [(s["document_version"], s["status"]) for s in view["past"]] == [(1, "retired")]
    lines = view["active"][0]["entries"][0]["lines"]
    assert sum(float(line["amount"]) for line in lines) == 0
    assert {line["account"] for line in lines} == {"1100", "4000", "2200"}
    assert "297.5" in {line["amount"].rstrip("0") for line in lines}

    without_payout_rules(uow, "acme")
    upsert(uow, "acme", PAYOUT)
    posting.post_documents(uow(), "acme", {"po-1": 1})
    dead = api.get("/v1/admin/orgs/acme/documents/po-1", headers=admin).json()
    assert dead["state"] == "dead" and "payout" in dead["last_error"]
    assert dead["active"] == [] and dead["past"] == []
    assert api.get("/v1/admin/orgs/acme/documents/nope", headers=admin).status_code == 404
    assert api.get("/v1/admin/orgs/nobody/documents/inv-1", headers=admin).status_code == 404
