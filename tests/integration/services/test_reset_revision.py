"""A document a wrong revision froze is freed by an operator, and the reset is recorded."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from accounting.errors import InvalidSetting, UnknownDocument, UnknownOrganization
from accounting.services.documents import UpsertResult, reset_revision, upsert_documents
from tasks.cli import cli

from helpers import count, invoice

FROZEN = 2**63 - 1  # what the review stored, before such revisions were refused


def upsert(uow: Any, org: str, *docs: dict[str, Any]) -> UpsertResult:
    return upsert_documents(uow(), org, list(docs), max_documents=10)


def freeze(engine: Engine, org: str, doc_id: str) -> None:
    """A document stored with a revision no later change can pass (as before the bound)."""
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE documents SET revision = :r WHERE org_id = :o AND id = :i"),
            {"r": FROZEN, "o": org, "i": doc_id},
        )


def actions(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT actor, org_id, document_id, action, detail FROM operator_actions")
        ).all()
    return [tuple(row) for row in rows]


def test_a_frozen_document_takes_changes_again_once_its_revision_is_reset(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1") | {"revision": 5})
    freeze(engine, org, "inv-1")
    change = invoice("inv-1", "120.00") | {"revision": 1_790_000_000_000}
    assert upsert(uow, org, change).stale == ["inv-1"]  # the review's L8

    before = reset_revision(uow(), org, "inv-1", to=None, actor="jane via test")

    assert before == FROZEN
    assert upsert(uow, org, change).changed == ["inv-1"]
    assert actions(engine) == [
        ("jane via test", org, "inv-1", "reset_revision", {"from": FROZEN, "to": None})
    ]


def test_a_reset_to_a_revision_makes_older_ones_stale_and_newer_ones_win(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1") | {"revision": 9})
    assert reset_revision(uow(), org, "inv-1", to=5, actor="ops") == 9
    assert upsert(uow, org, invoice("inv-1", "1.00") | {"revision": 4}).stale == ["inv-1"]
    assert upsert(uow, org, invoice("inv-1", "2.00") | {"revision": 6}).changed == ["inv-1"]
    assert count(engine, "SELECT count(*) FROM operator_actions") == 1


@pytest.mark.parametrize(
    ("org_id", "doc_id", "to", "error"),
    [
        ("acme", "ghost", None, UnknownDocument),
        ("ghost", "inv-1", None, UnknownOrganization),
        ("acme", "inv-1", 10**15 + 1, InvalidSetting),
        ("acme", "inv-1", -1, InvalidSetting),
    ],
)
def test_a_reset_that_cannot_be_done_changes_and_records_nothing(
    engine: Engine, uow: Any, org: str, org_id: str, doc_id: str, to: int | None, error: type
) -> None:
    upsert(uow, org, invoice("inv-1") | {"revision": 9})
    with pytest.raises(error):
        reset_revision(uow(), org_id, doc_id, to=to, actor="ops")
    assert count(engine, "SELECT revision FROM documents WHERE id = 'inv-1'") == 9
    assert count(engine, "SELECT count(*) FROM operator_actions") == 0


def test_the_command_resets_and_records_who_ran_it(engine: Engine, uow: Any, org: str) -> None:
    upsert(uow, org, invoice("inv-1") | {"revision": 9})
    result = CliRunner().invoke(cli, ["document", "reset-revision", org, "inv-1", "--to", "3"])
    assert result.exit_code == 0, result.output
    assert "acme inv-1: revision 9 -> 3 (recorded)" in result.output
    [(actor, *_, detail)] = actions(engine)
    assert actor.endswith(" via accounting document reset-revision")
    assert detail == {"from": 9, "to": 3}
    for bad in ("-1", "1e3", "x" * 1_000_000, str(10**15 + 1)):
        refused = CliRunner().invoke(cli, ["document", "reset-revision", org, "inv-1", "--to", bad])
        assert isinstance(refused.exception, InvalidSetting)
        assert str(refused.exception).startswith("--to: ")
        assert len(str(refused.exception)) < 300
    assert count(engine, "SELECT count(*) FROM operator_actions") == 1
