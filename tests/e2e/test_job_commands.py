"""`accounting recreate`, `accounting import` and `accounting status --watch` on real workers:
they follow their jobs to the end and say what failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from accounting import demo_data
from accounting.services import documents as documents_service
from accounting.services import posting
from accounting.services import queue as queue_service
from tasks.cli import cli

pytestmark = pytest.mark.timeout(180)


def both_lanes(workers: Any) -> None:
    workers.start("accounting.high", concurrency=1)
    workers.start("accounting.normal", concurrency=2, env={"ACCOUNTING_BATCH_SIZE": "50"})
    workers.wait_ready()


def test_recreate_follows_its_job_to_done_and_names_an_unknown_document(
    workers: Any, uow: Any, org: str
) -> None:
    documents_service.upsert_documents(
        uow(), org, list(demo_data.documents(3, prefix="d")), max_documents=9
    )
    posting.post_documents(uow(), org, {demo_data.document_id("d", n): 1 for n in range(3)})
    both_lanes(workers)
    ids = [demo_data.document_id("d", n) for n in range(3)]
    done = CliRunner().invoke(cli, ["recreate", org, *ids, "--wait", "60"])
    assert done.exit_code == 0, done.output
    assert "3 of 3 posted, 0 failed" in done.output
    unknown = CliRunner().invoke(cli, ["recreate", org, ids[0], "ghost", "--wait", "60"])
    assert unknown.exit_code == 1, unknown.output
    assert "rejected ghost" in unknown.output and "1 of 1 posted" in unknown.output


def test_import_sends_a_jsonl_file_in_chunks_and_reports_bad_lines_and_documents(
    workers: Any, uow: Any, org: str, tmp_path: Path
) -> None:
    both_lanes(workers)
    documents = list(demo_data.documents(120, prefix="imp"))
    bad = dict(documents[7]) | {"currency": "XXX"}
    lines = [json.dumps(d) for d in documents[:7]] + [json.dumps(bad), "{not json", "[1, 2]"]
    lines += [json.dumps(d) for d in documents[8:]]
    file = tmp_path / "documents.jsonl"
    file.write_text("\n".join(lines) + "\n")

    result = CliRunner().invoke(cli, ["import", org, str(file), "--chunk", "50", "--wait", "120"])
    assert result.exit_code == 1, result.output  # two bad lines and one rejected document
    assert "line 9: not JSON" in result.output and "line 10: not a JSON object" in result.output
    assert f"rejected {documents[7]['id']}: currency" in result.output
    assert "119 of 119 posted, 0 failed" in result.output
    assert queue_service.status(uow(), org)["posted"] == 119


def test_status_watch_refreshes_the_counts(uow: Any, org: str, workers: Any) -> None:
    result = CliRunner().invoke(cli, ["status", "--watch", "--interval", "0.1", "--count", "2"])
    assert result.exit_code == 0, result.output
    assert "pending high" in result.output
