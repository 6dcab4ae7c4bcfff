"""A sync POSTed over HTTP is in Postgres when the 202 comes back, before any worker runs, and
a real worker then posts it; its events, read over HTTP, end in done."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from accounting import demo_data
from accounting.services import tokens
from web.app import create_app

from helpers import count

pytestmark = pytest.mark.timeout(180)


def sse(text: str) -> list[dict[str, Any]]:
    """The events of a Server-Sent Events body: id, event, data."""
    blocks = (
        dict(line.split(": ", 1) for line in b.splitlines() if ": " in line)
        for b in text.split("\n\n")
    )
    return [
        {**fields, "data": json.loads(fields["data"])} for fields in blocks if "event" in fields
    ]


def test_posted_documents_are_stored_before_the_answer_and_posted_by_a_worker(
    workers: Any, engine: Engine, uow: Any, make_org: Any
) -> None:
    org, other = make_org("acme"), make_org("globex")
    headers = {"Authorization": f"Bearer {tokens.create_token(uow(), org)}"}
    other_headers = {"Authorization": f"Bearer {tokens.create_token(uow(), other)}"}
    documents = list(demo_data.documents(30, prefix="w"))
    with TestClient(create_app()) as api:
        answer = api.post(
            f"/v1/orgs/{org}/documents", headers=headers, json={"documents": documents}
        )
        # No worker runs yet: whatever is in Postgres now, the HTTP service put there.
        stored = count(
            engine,
            "SELECT count(*) FROM documents WHERE org_id = :org AND ready_version = 1"
            " AND posted_version = 0",
            org=org,
        )
        assert answer.status_code == 202 and stored == 30
        job_id = answer.json()["job_id"]
        assert len(answer.json()["changed"]) == 30 and answer.json()["rejected"] == []
        refused = api.post(
            f"/v1/orgs/{org}/documents", headers=other_headers, json={"documents": []}
        )
        assert refused.status_code == 404
        assert api.get(f"/v1/jobs/{job_id}/events", headers=other_headers).status_code == 404
        too_large = b'{"documents": [' + b" " * (4 * 1024 * 1024 + 1) + b"]}"
        assert (
            api.post(f"/v1/orgs/{org}/documents", headers=headers, content=too_large).status_code
            == 413
        )

        workers.start("accounting.normal", concurrency=1)
        workers.wait_ready()
        events = sse(api.get(f"/v1/jobs/{job_id}/events", headers=headers).text)  # ends with done
    assert events[0]["event"] == "accepted" and events[0]["data"]["total"] == 30
    assert events[-1]["event"] == "done"
    assert events[-1]["data"] == {"posted": 30, "failed": 0, "total": 30}
    posted = "SELECT count(*) FROM documents WHERE org_id = :org AND posted_version = 1"
    assert count(engine, posted, org=org) == 30
