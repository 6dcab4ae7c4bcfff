"""The command line on the embedded default: with no URLs set, `accounting demo` and then
`status`, `trial-balance`, `export` and `dead list` work on the demo's data (the same data
folder), and `accounting up` keeps the services running for every command until `down`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest

pytestmark = pytest.mark.timeout(600)


def accounting(data_dir: Path, *args: str, timeout: float = 300) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCOUNTING_")}
    env["ACCOUNTING_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "tasks.cli", *args],
        env=env,
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"accounting {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_demo_then_every_reading_command_works_on_its_data_with_no_urls(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    accounting(data_dir, "demo", "--documents", "60", "--recreates", "1")
    (export,) = (data_dir / "exports").glob("*.beancount")
    org = export.stem

    status = accounting(data_dir, "status", "--json")
    assert json.loads(status)["posted"] == 60
    balance = json.loads(accounting(data_dir, "trial-balance", org, "--json"))
    assert balance["balanced"] is True and balance["accounts"], balance
    books = accounting(data_dir, "export", org, "--format", "beancount")
    assert " open Assets:" in books and " * " in books, books[:500]
    assert "dead" in accounting(data_dir, "dead", "list").lower()
    assert not (data_dir / "services.json").exists()  # each command stopped what it started


def test_up_keeps_the_services_for_every_command_until_down(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    printed = accounting(data_dir, "up")
    assert "export ACCOUNTING_DATABASE_URL=" in printed and "ACCOUNTING_REDIS_URL=" in printed
    holder = psutil.Process(json.loads((data_dir / "services.json").read_text())["pid"])
    try:
        assert accounting(data_dir, "up") == printed  # the same services, not a second set
        accounting(data_dir, "org", "create", "shop", "--name", "Shop", "--currency", "EUR")
        # A second command reads what the first wrote: the same running services.
        assert json.loads(accounting(data_dir, "org", "list", "--json"))[0]["id"] == "shop"
        assert holder.is_running()
    finally:
        assert "stopped" in accounting(data_dir, "down")
    assert not holder.is_running() or holder.status() == psutil.STATUS_ZOMBIE
    assert not (data_dir / "services.json").exists()
    assert "nothing is up" in accounting(data_dir, "down")


def test_a_commands_help_starts_no_services(tmp_path: Path) -> None:
    assert "--limit" in accounting(tmp_path / "data", "dead", "list", "--help")
    assert not (tmp_path / "data").exists()
