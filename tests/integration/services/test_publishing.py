"""Posting-matrix versions on real Postgres: drafts, publishing blocked by gaps, immutability
once published, the version entries record, and the opt-in recreate."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from accounting import demo_data, runtime
from accounting.domain.matrix import PostingMatrix, Rule, matrix_to_json
from accounting.errors import IncompleteMatrix, InvalidMatrix, InvalidSetting, NoDraftMatrix
from accounting.services import documents as documents_service
from accounting.services import matrices, posting
from accounting.services import queue as queue_service
from accounting.services import recreate as recreate_service
from tasks.cli import cli

from helpers import count, invoice

MAX = 1000


def upsert(uow: Any, org: str, *docs: dict[str, Any]) -> None:
    assert (
        documents_service.upsert_documents(uow(), org, list(docs), max_documents=MAX).rejected == []
    )


def current_version(engine: Engine, org: str) -> int:
    return count(engine, "SELECT matrix_version FROM organizations WHERE id = :o", o=org)


def with_rule(org: str, key: tuple[str, str, str], rule: Rule) -> PostingMatrix:
    full = demo_data.matrix(org)
    return replace(full, rules={**full.rules, key: rule})


def test_a_publish_blocked_by_a_missing_account_lists_every_gap_and_changes_nothing(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(
        uow,
        org,
        invoice("inv-1"),
        {
            **invoice("inv-2"),
            "lines": [{"quantity": "1", "unit_price": "5", "group": "gift-cards"}],
        },
    )
    full = demo_data.matrix(org)
    services_only = {k: r for k, r in full.rules.items() if k[:2] != ("invoice", "net")}
    services_only[("invoice", "net", "services")] = Rule("1100", "4030")
    with uow() as unit:
        unit.matrices.add_accounts(org, [("4030", "Revenue: old services", "revenue")])
        unit.commit()
    matrices.save_matrix_draft(uow(), org, replace(full, rules=services_only))
    matrices.set_account_active(uow(), org, "4030", False)

    with pytest.raises(IncompleteMatrix) as raised:
        matrices.publish_draft(uow(), org)
    assert raised.value.gaps == [
        "no rule for invoice/net/default, which documents use",
        "no rule for invoice/net/gift-cards, which documents use",
        "rule invoice/net/services: credit account '4030' is inactive",
    ]
    assert current_version(engine, org) == 1
    assert count(engine, "SELECT count(*) FROM posting_matrices WHERE published_at IS NULL") == 1


def test_a_draft_naming_an_account_not_in_the_chart_is_refused_naming_it(
    engine: Engine, uow: Any, org: str
) -> None:
    bad = with_rule(org, ("refund", "gross", "paypal"), Rule("1100", "1234"))
    with pytest.raises(InvalidMatrix, match="refund/gross/paypal: credit account '1234'"):
        matrices.publish_matrix(uow(), org, bad)
    assert count(engine, "SELECT count(*) FROM posting_matrices") == 1


def test_a_published_version_cannot_change_in_the_database(engine: Engine, org: str) -> None:
    statements = [
        "UPDATE posting_rules SET credit_account = '4010'",
        "DELETE FROM posting_rules",
        "INSERT INTO posting_rules VALUES ('acme', 1, 'refund', 'gross', 'x', '1100', '1200')",
        "UPDATE posting_matrices SET published_at = NULL",
        "DELETE FROM posting_matrices",
    ]
    for statement in statements:
        with pytest.raises(DBAPIError, match="is published"), engine.begin() as connection:
            connection.execute(text(statement))
    assert count(engine, "SELECT count(*) FROM posting_rules WHERE version = 1") == len(
        demo_data.matrix(org).rules
    )


def test_a_draft_is_replaced_until_published_then_the_next_draft_is_a_new_version(
    uow: Any, org: str
) -> None:
    first = with_rule(org, ("payment", "gross", "paypal"), Rule("1000", "1100"))
    second = with_rule(org, ("payment", "gross", "paypal"), Rule("1200", "1100"))
    assert matrices.save_matrix_draft(uow(), org, first) == 2
    assert matrices.save_matrix_draft(uow(), org, second) == 2
    loaded = matrices.load_matrix_version(uow(), org, draft=True)
    assert loaded.rules[("payment", "gross", "paypal")] == Rule("1200", "1100")
    assert matrices.publish_draft(uow(), org).version == 2
    with pytest.raises(NoDraftMatrix):
        matrices.publish_draft(uow(), org)
    assert matrices.save_matrix_draft(uow(), org, first) == 3


def test_entries_record_the_matrix_version_they_were_built_with(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    posting.post_documents(uow(), org, {"inv-1": 1})
    matrices.publish_matrix(
        uow(), org, with_rule(org, ("invoice", "net", "*"), Rule("1100", "4010"))
    )
    recreate_service.request_recreate(uow(), org, ["inv-1"], hold_seconds=None)
    posting.post_documents(uow(), org, {"inv-1": 2})
    rows = count(
        engine,
        "SELECT count(*) FROM journal_entries WHERE"
        " (document_version, matrix_version, status) IN ((1, 1, 'retired'), (2, 2, 'active'))",
    )
    assert rows == 2


def test_a_preview_under_the_draft_shows_its_rules(uow: Any, org: str) -> None:
    upsert(uow, org, invoice("inv-1"))
    matrices.save_matrix_draft(
        uow(), org, with_rule(org, ("invoice", "net", "*"), Rule("1100", "4010"))
    )
    [draft] = posting.preview_entries(uow(), org, None, document_id="inv-1")
    assert (draft.matrix_version, {line.account for line in draft.lines}) == (
        2,
        {"1100", "2200", "4010"},
    )
    [current] = posting.preview_entries(uow(), org, 1, document_id="inv-1")
    assert "4000" in {line.account for line in current.lines}


def test_publishing_with_recreate_gives_only_the_affected_documents_a_new_normal_version(
    engine: Engine, uow: Any, org: str
) -> None:
    services_line = {"quantity": "1", "unit_price": "5", "group": "services"}
    upsert(
        uow,
        org,
        invoice("inv-1"),
        {**invoice("inv-2"), "lines": [services_line]},
        {"id": "pay-1", "type": "payment", "date": "2026-03-02", "currency": "EUR", "amount": "5"},
    )
    posting.post_documents(uow(), org, {"inv-1": 1, "inv-2": 1, "pay-1": 1})
    changed = with_rule(org, ("invoice", "net", "services"), Rule("1100", "4000"))

    matrices.publish_matrix(uow(), org, changed)  # no recreate unless asked
    assert queue_service.status(uow(), org)["posted"] == 3

    changed_back = with_rule(org, ("invoice", "net", "services"), Rule("1100", "4010"))
    matrices.save_matrix_draft(uow(), org, changed_back)
    assert matrices.publish_draft(uow(), org, recreate=True).recreated == 1
    status = queue_service.status(uow(), org)
    assert (status["posted"], status["pending_normal"], status["pending_high"]) == (2, 1, 0)
    assert count(engine, "SELECT ready_version FROM documents WHERE id = 'inv-2'") == 2

    # A user's recreate waiting on the high lane keeps its lane through the next one.
    recreate_service.request_recreate(uow(), org, ["inv-2"], hold_seconds=None)
    matrices.publish_matrix(uow(), org, changed, recreate=True)
    status = queue_service.status(uow(), org)
    assert (status["pending_normal"], status["pending_high"]) == (0, 1)
    assert count(engine, "SELECT ready_version FROM documents WHERE id = 'inv-2'") == 4


def test_upserts_record_the_components_documents_use(engine: Engine, uow: Any, org: str) -> None:
    subscription = {
        "id": "sub-1",
        "type": "subscription_invoice",
        "date": "2026-01-01",
        "currency": "EUR",
        "service_start": "2026-01-01",
        "term_months": 2,
        "lines": [{"quantity": "1", "unit_price": "10", "group": "saas", "tax_rate": "0.19"}],
    }
    upsert(uow, org, subscription, invoice("inv-1"))
    with engine.connect() as connection:
        used = set(
            connection.execute(
                text("SELECT document_type, component, group_name FROM document_components")
            ).all()
        )
    assert used == {
        ("subscription_invoice", "net", "saas"),
        ("subscription_invoice", "tax", "default"),
        ("subscription_invoice", "recognition", "saas"),
        ("invoice", "net", "default"),
        ("invoice", "tax", "default"),
    }


def test_an_account_in_use_cannot_be_deactivated(uow: Any, org: str) -> None:
    with pytest.raises(InvalidSetting, match="used by matrix version 1"):
        matrices.set_account_active(uow(), org, "4000", False)
    with pytest.raises(InvalidSetting, match="rounding account"):
        matrices.set_account_active(uow(), org, "6990", False)


def test_the_cli_drafts_previews_and_publishes_and_lists_gaps(
    tmp_path: Path, uow: Any, org: str, redis_client: Any
) -> None:
    upsert(uow, org, invoice("inv-1"))
    matrix_file = tmp_path / "matrix.json"
    rules = matrix_to_json(with_rule(org, ("invoice", "net", "*"), Rule("1100", "4010")))
    matrix_file.write_text(json.dumps(rules))
    runner = CliRunner()

    drafted = runner.invoke(cli, ["matrix", "draft", org, str(matrix_file)])
    assert drafted.exit_code == 0, drafted.output
    previewed = runner.invoke(cli, ["matrix", "preview", org, "--document", "inv-1", "--json"])
    assert previewed.exit_code == 0, previewed.output
    [entry] = json.loads(previewed.output)
    assert {line["account"] for line in entry["lines"]} == {"1100", "2200", "4010"}
    published = runner.invoke(cli, ["matrix", "publish", org, "--recreate"])
    assert published.exit_code == 0, published.output
    assert "version 2 published" in published.output
    assert "1 documents recreated" in published.output

    no_tax = {"rules": [r for r in rules["rules"] if r["component"] != "tax"]}  # type: ignore[index]
    matrix_file.write_text(json.dumps(no_tax))
    assert runner.invoke(cli, ["matrix", "draft", org, str(matrix_file)]).exit_code == 0
    blocked = runner.invoke(cli, ["matrix", "publish", org])
    assert blocked.exit_code == 2
    assert "no rule for invoice/tax/default" in blocked.output


def test_a_publish_is_seen_by_the_next_posting_through_both_cache_levels(
    engine: Engine, uow: Any, org: str, redis_client: Any
) -> None:
    upsert(uow, org, invoice("inv-1"), invoice("inv-2"))
    cache = runtime.matrix_cache()
    posting.post_documents(uow(), org, {"inv-1": 1}, matrices=cache)  # in-process and in Redis
    matrices.publish_matrix(
        uow(), org, with_rule(org, ("invoice", "net", "*"), Rule("1100", "4010"))
    )
    posting.post_documents(uow(), org, {"inv-2": 1}, matrices=cache)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT e.document_id, e.matrix_version, l.account_code FROM journal_entries e"
                " JOIN journal_lines l ON l.entry_id = e.id WHERE l.account_code LIKE '40%'"
                " ORDER BY 1"
            )
        ).all()
    assert [tuple(row) for row in rows] == [("inv-1", 1, "4000"), ("inv-2", 2, "4010")]
    assert len(redis_client.keys("accounting:matrix:acme:*")) == 2
