"""``accounting trial-balance`` and ``accounting export`` against the test database."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from beancount import loader
from typer.testing import CliRunner

from accounting.errors import InvalidPeriod
from accounting.services import posting
from accounting.services.documents import upsert_documents
from tasks.cli import cli

from helpers import invoice


def post_two_invoices(uow: Any, org: str) -> None:
    upsert_documents(uow(), org, [invoice("inv-1"), invoice("inv-2")], max_documents=10)
    posting.post_documents(uow(), org, {"inv-1": 1, "inv-2": 1})


def test_trial_balance_prints_one_json_object_with_decimal_strings(uow: Any, org: str) -> None:
    post_two_invoices(uow, org)

    result = CliRunner().invoke(cli, ["trial-balance", org, "--period", "2026-03", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["balanced"] is True
    assert report["totals"]["debit"] == report["totals"]["credit"] == "238.00"
    assert [a["code"] for a in report["accounts"]] == ["1100", "2200", "4000"]


def test_trial_balance_prints_a_table_with_totals(uow: Any, org: str) -> None:
    post_two_invoices(uow, org)
    result = CliRunner().invoke(cli, ["trial-balance", org])
    assert result.exit_code == 0, result.output
    assert "1100" in result.output and "total" in result.output
    assert "238.00" in result.output


def test_a_malformed_period_fails_naming_it(org: str) -> None:
    result = CliRunner().invoke(cli, ["trial-balance", org, "--period", "March"])
    assert isinstance(result.exception, InvalidPeriod)
    assert "March" in str(result.exception)


def test_export_writes_csv_to_a_file_and_leaves_nothing_else(
    uow: Any, org: str, tmp_path: Path
) -> None:
    post_two_invoices(uow, org)
    target = tmp_path / "books" / "acme.csv"

    result = CliRunner().invoke(cli, ["export", org, "--output", str(target)])

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 6 and {r["document_id"] for r in rows} == {"inv-1", "inv-2"}
    assert [p.name for p in target.parent.iterdir()] == ["acme.csv"]


def test_export_prints_beancount_that_beancount_loads(uow: Any, org: str) -> None:
    post_two_invoices(uow, org)

    result = CliRunner().invoke(cli, ["export", org, "--format", "beancount"])

    assert result.exit_code == 0, result.output
    _, errors, options = loader.load_string(result.stdout)
    assert errors == []
    assert options["operating_currency"] == ["EUR"]


def test_a_failed_export_leaves_the_previous_file_alone(org: str, tmp_path: Path) -> None:
    target = tmp_path / "acme.beancount"
    target.write_text("previous\n")
    result = CliRunner().invoke(cli, ["export", "ghost", "--output", str(target)])
    assert "ghost" in str(result.exception)
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["acme.beancount"]
