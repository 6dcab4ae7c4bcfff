"""The ``accounting`` command line against the test database."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from accounting import services
from tasks.cli import cli

from helpers import invoice


def test_status_reports_pending_posted_and_failed_per_organization(uow: Any, org: str) -> None:
    docs = [invoice("inv-1"), invoice("inv-2"), invoice("inv-3")]
    services.upsert_documents(uow(), org, docs, max_documents=10)
    services.post_documents(uow(), org, {"inv-1": 1})
    services.request_recreate(uow(), org, ["inv-2"], hold_seconds=None)

    result = CliRunner().invoke(cli, ["status", "--org", org, "--json"])

    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["posted"] == 1
    assert counts["pending_high"] == 1  # inv-2, recreated
    assert counts["pending_normal"] == 1  # inv-3
    assert counts["dead"] == 0
    assert counts["documents"] == 3


def test_migrate_is_idempotent(migrated_engine: Any) -> None:
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "head" in result.output
