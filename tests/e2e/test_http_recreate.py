"""A recreate asked over HTTP is posted by a real high worker, and its events end in done."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accounting import demo_data
from accounting.services import posting, tokens
from accounting.services.documents import document_versions, upsert_documents
from web.app import create_app

pytestmark = pytest.mark.timeout(120)


def test_a_recreate_over_http_is_posted_and_followed_to_done(
    workers: Any, uow: Any, org: str
) -> None:
    upsert_documents(uow(), org, list(demo_data.documents(2, prefix="h")), max_documents=9)
    ids = [demo_data.document_id("h", n) for n in range(2)]
    posting.post_documents(uow(), org, dict.fromkeys(ids, 1))
    workers.start("accounting.high", concurrency=1)
    workers.wait_ready()
    headers = {"Authorization": f"Bearer {tokens.create_token(uow(), org)}"}
    with TestClient(create_app()) as api:
        accepted = api.post(f"/v1/orgs/{org}/recreate", headers=headers, json={"document_ids": ids})
        assert accepted.status_code == 202
        job_id = accepted.json()["job_id"]
        body = api.get(f"/v1/jobs/{job_id}/events", headers=headers).text  # ends with done
    events = [
        (fields["event"], json.loads(fields["data"]))
        for fields in (
            dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            for block in body.split("\n\n")
        )
        if "event" in fields
    ]
    assert events[0] == (
        "accepted",
        {"job_id": job_id, "org_id": org, "kind": "recreate", "total": 2, "rejected": 0},
    )
    assert events[-1] == ("done", {"posted": 2, "failed": 0, "total": 2})
    assert document_versions(uow(), org, ids) == dict.fromkeys(ids, (2, 2))
