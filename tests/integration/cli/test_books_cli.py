"""``accounting period``, ``accounting rates`` and ``accounting rounding`` against the test
database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from typer.testing import CliRunner

from accounting.errors import InvalidExchangeRate, InvalidPeriod
from tasks.cli import cli

from helpers import count


def test_periods_close_list_and_reopen(org: str) -> None:
    runner = CliRunner()
    assert "closed" in runner.invoke(cli, ["period", "close", org, "2026-03"]).output
    assert "already closed" in runner.invoke(cli, ["period", "close", org, "2026-03"]).output
    listed = runner.invoke(cli, ["period", "list", org, "--json"])
    assert json.loads(listed.output) == [{"period": "2026-03", "status": "closed"}]
    assert "reopened" in runner.invoke(cli, ["period", "reopen", org, "2026-03"]).output
    bad = runner.invoke(cli, ["period", "close", org, "March"])
    assert isinstance(bad.exception, InvalidPeriod)


def test_rates_are_set_and_imported_and_a_bad_file_imports_nothing(
    tmp_path: Path, engine: Engine, org: str
) -> None:
    runner = CliRunner()
    one = runner.invoke(cli, ["rates", "set", org, "usd", "2026-03-01", "0.92", "--source", "ECB"])
    assert one.exit_code == 0, one.output
    good = tmp_path / "rates.csv"
    good.write_text("currency,date,rate,source\nGBP,2026-03-01,1.17,ECB\nUSD,2026-03-01,0.93,ECB\n")
    assert runner.invoke(cli, ["rates", "import", org, str(good)]).exit_code == 0
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT currency, rate::text, source FROM exchange_rates ORDER BY currency")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("GBP", "1.170000000000", "ECB"),
        ("USD", "0.930000000000", "ECB"),
    ]

    bad = tmp_path / "bad.csv"
    bad.write_text("currency,date,rate,source\nCHF,2026-03-01,0.95,x\nJPY,2026-02-30,150,x\n")
    failed = runner.invoke(cli, ["rates", "import", org, str(bad)])
    assert isinstance(failed.exception, InvalidExchangeRate)
    assert "line 3" in str(failed.exception)
    assert count(engine, "SELECT count(*) FROM exchange_rates") == 2


def test_rounding_sets_the_account_and_its_tolerance(engine: Engine, org: str, uow: Any) -> None:
    result = CliRunner().invoke(cli, ["rounding", org, "--account", "6100", "--tolerance", "0.02"])
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT rounding_account, rounding_tolerance::text FROM organizations")
        ).one()
    assert tuple(row) == ("6100", "0.02000000")
