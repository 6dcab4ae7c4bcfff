"""One organization's task, call or command never reads or writes another's documents or
entries, even when it names them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from accounting.errors import UnknownDocument
from accounting.services import books, posting
from accounting.services import documents as documents_service
from accounting.services import queue as queue_service
from accounting.services import recreate as recreate_service
from tasks.cli import cli

from helpers import count, invoice

A, B = "acme", "globex"


def state(engine: Engine, org: str) -> list[tuple[Any, ...]]:
    """Everything of one organization that matters: documents, versions, entries, lines."""
    with engine.connect() as connection:
        documents = connection.execute(
            text(
                "SELECT id, content_hash, ready_version, posted_version, failed_version"
                " FROM documents WHERE org_id = :o ORDER BY id"
            ),
            {"o": org},
        ).all()
        entries = connection.execute(
            text(
                "SELECT e.document_id, e.document_version, e.status, l.account_code, l.amount"
                " FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id"
                " WHERE e.org_id = :o ORDER BY e.id, l.id"
            ),
            {"o": org},
        ).all()
    return [tuple(row) for row in documents + entries]


@pytest.fixture
def tenants(engine: Engine, uow: Any, make_org: Any) -> list[tuple[Any, ...]]:
    """A and B, each with posted invoices; B also has one only it knows. Returns B's state."""
    for org, price in ((A, "100.00"), (B, "777.00")):
        make_org(org)
        docs = [invoice("inv-1", price)] + ([invoice("b-only", price)] if org == B else [])
        documents_service.upsert_documents(uow(), org, docs, max_documents=10)
        posting.post_documents(uow(), org, {d["id"]: 1 for d in docs})
    return state(engine, B)


def test_a_recreate_by_one_organization_of_anothers_document_is_rejected(
    engine: Engine, tenants: list[Any]
) -> None:
    from tasks.documents import recreate

    result = recreate(A, ["b-only"])
    assert result["requested"] == 0
    assert [(r["document_id"], r["field"]) for r in result["rejected"]] == [
        ("b-only", "document_ids")
    ]
    assert state(engine, B) == tenants


def test_a_batch_for_one_organization_posts_nothing_of_another(
    engine: Engine, uow: Any, tenants: list[Any]
) -> None:
    recreate_service.request_recreate(uow(), B, ["b-only"], hold_seconds=None)
    before = state(engine, B)
    result = posting.post_documents(uow(), A, {"b-only": 2})
    assert result.posted == [] and result.stale == ["b-only"]
    assert state(engine, B) == before


def test_the_same_document_id_in_two_organizations_is_two_documents(
    engine: Engine, uow: Any, tenants: list[Any]
) -> None:
    documents_service.upsert_documents(uow(), A, [invoice("inv-1", "101.00")], max_documents=10)
    posting.post_documents(uow(), A, {"inv-1": 2})
    assert state(engine, B) == tenants
    assert count(engine, "SELECT count(*) FROM documents WHERE id = 'inv-1'") == 2


def test_a_preview_cannot_read_anothers_document(uow: Any, tenants: list[Any]) -> None:
    with pytest.raises(UnknownDocument):
        posting.preview_entries(uow(), A, None, document_id="b-only")
    result = CliRunner().invoke(cli, ["matrix", "preview", A, "--document", "b-only"])
    assert result.exit_code != 0 and "b-only" in str(result.exception or result.output)


def test_retrying_dead_documents_of_one_organization_leaves_anothers_dead(
    engine: Engine, uow: Any, tenants: list[Any]
) -> None:
    for org in (A, B):
        documents_service.upsert_documents(
            uow(), org, [invoice("dead-1", "5.00")], max_documents=10
        )
        queue_service.abandon_pending(uow(), org, "given up")
    result = CliRunner().invoke(cli, ["dead", "retry", "--org", A])
    assert result.exit_code == 0, result.output
    assert queue_service.status(uow(), A)["dead"] == 0
    assert queue_service.status(uow(), B)["dead"] == 1


def test_one_organizations_reports_hold_nothing_of_another(uow: Any, tenants: list[Any]) -> None:
    balance = CliRunner().invoke(cli, ["trial-balance", A, "--json"])
    assert balance.exit_code == 0, balance.output
    assert "777" not in balance.output
    exported = CliRunner().invoke(cli, ["export", A, "--format", "csv"])
    assert exported.exit_code == 0, exported.output
    assert "777" not in exported.output and "b-only" not in exported.output
    status = json.loads(CliRunner().invoke(cli, ["status", "--org", A, "--json"]).output)
    assert status["documents"] == 1


def test_closing_a_month_of_one_organization_leaves_anothers_open(
    engine: Engine, uow: Any, tenants: list[Any]
) -> None:
    books.close_period(uow(), A, "2026-03")
    for org in (A, B):
        documents_service.upsert_documents(uow(), org, [invoice("march", "3.00")], max_documents=10)
        assert posting.post_documents(uow(), org, {"march": 1}).posted == ["march"]
    with engine.connect() as connection:
        days = dict(
            connection.execute(
                text(
                    "SELECT org_id, entry_date::text FROM journal_entries"
                    " WHERE document_id = 'march'"
                )
            ).all()
        )
    assert days == {A: "2026-04-01", B: "2026-03-01"}  # A's March is closed, B's open


def test_a_batch_task_for_one_organization_naming_anothers_documents_posts_nothing_of_it(
    engine: Engine, uow: Any, tenants: list[Any]
) -> None:
    from tasks.posting import post_batch

    recreate_service.request_recreate(uow(), B, ["b-only", "inv-1"], hold_seconds=None)
    before = state(engine, B)
    result = post_batch(A, {"b-only": 2, "inv-1": 2}, schema=2, lane="normal", dispatched_at=None)
    assert result["posted"] == 0
    assert state(engine, B) == before


def test_an_upsert_task_of_one_organization_with_anothers_id_makes_its_own_document(
    engine: Engine, tenants: list[Any]
) -> None:
    from tasks.documents import upsert_documents

    assert upsert_documents(A, [invoice("b-only", "1.00")])["changed"] == ["b-only"]
    assert state(engine, B) == tenants


def test_retrying_anothers_dead_document_by_id_revives_nothing(
    uow: Any, tenants: list[Any]
) -> None:
    documents_service.upsert_documents(uow(), B, [invoice("dead-b", "5.00")], max_documents=10)
    queue_service.abandon_pending(uow(), B, "given up")
    result = CliRunner().invoke(cli, ["dead", "retry", "--org", A, "--document", "dead-b"])
    assert result.exit_code == 0, result.output
    assert "0 documents" in result.output
    assert queue_service.status(uow(), B)["dead"] == 1


def test_closing_a_month_from_the_command_line_touches_only_that_organization(
    engine: Engine, tenants: list[Any]
) -> None:
    result = CliRunner().invoke(cli, ["period", "close", A, "2026-03"])
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        closed = connection.execute(text("SELECT org_id FROM periods WHERE status = 'closed'"))
        assert closed.scalars().all() == [A]
    assert state(engine, B) == tenants
