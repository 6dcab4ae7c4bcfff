"""The ``accounting`` command line against the test database."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from accounting.services import documents as documents_service
from accounting.services import posting
from accounting.services import queue as queue_service
from accounting.services import recreate as recreate_service
from tasks.cli import cli

from helpers import invoice


def test_status_reports_pending_posted_and_failed_per_organization(uow: Any, org: str) -> None:
    docs = [invoice("inv-1"), invoice("inv-2"), invoice("inv-3")]
    documents_service.upsert_documents(uow(), org, docs, max_documents=10)
    posting.post_documents(uow(), org, {"inv-1": 1})
    recreate_service.request_recreate(uow(), org, ["inv-2"], hold_seconds=None)

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


def test_dead_list_shows_the_error_and_dead_retry_makes_it_pending_again(
    engine: Any, uow: Any, org: str, redis_client: Any
) -> None:
    from sqlalchemy import text

    documents_service.upsert_documents(uow(), org, [invoice("inv-1")], max_documents=10)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE documents SET failed_version = 1, last_error = 'no rule for payout'")
        )
    listed = CliRunner().invoke(cli, ["dead", "list", "--org", org, "--json"])
    assert listed.exit_code == 0, listed.output
    (row,) = [json.loads(line) for line in listed.output.splitlines()]
    assert (row["document_id"], row["error"]) == ("inv-1", "no rule for payout")

    retried = CliRunner().invoke(cli, ["dead", "retry", "--org", org, "--document", "inv-1"])
    assert retried.exit_code == 0, retried.output
    assert queue_service.status(uow(), org)["pending_normal"] == 1


def test_pause_and_resume_an_organization(uow: Any, org: str, redis_client: Any) -> None:
    assert CliRunner().invoke(cli, ["pause", org]).exit_code == 0
    assert recreate_service.request_recreate(uow(), org, [], hold_seconds=None).paused is True
    assert CliRunner().invoke(cli, ["resume", org]).exit_code == 0
    assert recreate_service.request_recreate(uow(), org, [], hold_seconds=None).paused is False


def test_an_unknown_organization_is_a_clear_error(uow: Any) -> None:
    result = CliRunner().invoke(cli, ["pause", "ghost"])
    assert result.exit_code != 0
    assert "ghost" in str(result.exception)


def test_a_token_is_shown_once_listed_by_fingerprint_and_revoked(uow: Any, org: str) -> None:
    from accounting.services import tokens

    created = CliRunner().invoke(cli, ["token", "create", org, "--label", "status page"])
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert tokens.organization_of(uow(), token) == org
    listed = CliRunner().invoke(cli, ["token", "list", org])
    assert "status page" in listed.output and token not in listed.output
    fingerprint = tokens.list_tokens(uow(), org)[0].fingerprint
    assert fingerprint in listed.output
    revoked = CliRunner().invoke(cli, ["token", "revoke", org, fingerprint])
    assert revoked.exit_code == 0, revoked.output
    assert tokens.organization_of(uow(), token) is None
