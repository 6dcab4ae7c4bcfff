"""A worker with ACCOUNTING_LOG_FORMAT=json writes one JSON object per line, and a line about
a document names its organization, job and document."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from accounting.services.documents import upsert_documents
from accounting.services.queue import status

from helpers import invoice, wait_for

pytestmark = pytest.mark.timeout(120)


def json_lines(worker: Any) -> list[dict[str, Any]]:
    lines = worker.log_path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_worker_lines_are_json_and_name_task_org_job_and_document(
    workers: Any, engine: Any, uow: Any, org: str
) -> None:
    from tasks.documents import recreate

    env = {"ACCOUNTING_LOG_FORMAT": "json"}
    high = workers.start("accounting.high", concurrency=1, env=env)
    normal = workers.start("accounting.normal", concurrency=1, env=env)
    workers.wait_ready()
    upsert_documents(uow(), org, [invoice("inv-1"), invoice("bad-1")], max_documents=10)
    with engine.begin() as connection:  # a document that cannot be posted: no rule for it
        connection.execute(
            text(
                "UPDATE documents SET facts = jsonb_set(facts, '{type}', '\"mystery\"')"
                " WHERE id = 'bad-1'"
            )
        )
    job = recreate.delay(org, ["inv-1"], "jane")
    job.get(timeout=30)
    wait_for(lambda: status(uow(), org)["dead"] == 1, 60, "bad-1 dead", workers)

    recreated = [
        line for line in json_lines(high) if line.get("task_name") == "accounting.recreate"
    ]
    assert recreated and all(
        (line["org_id"], line["job_id"], line["task_id"]) == (org, job.id, job.id)
        for line in recreated
    )
    dead = [line for line in json_lines(normal) if line.get("document_id") == "bad-1"]
    assert dead and dead[0]["org_id"] == org and "dead" in dead[0]["message"]
    assert all(line["level"] and line["time"] for line in json_lines(normal))
