"""The CI-sized chaos run: every kind of fault at least once, and nothing lost, posted twice or
unbalanced (`accounting chaos` counts that in SQL and exits 1 otherwise)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.tools.chaos.faults import BOUNCER_FAULTS, FAULTS
from tasks.tools.chaos.servers import bouncer_installed

pytestmark = pytest.mark.timeout(900)
IN_CI = bool(os.environ.get("CI"))


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Outside pytest's own folder: the run restarts Postgres as an unprivileged user, who
    must reach its data folder, and pytest makes its folder private (0700) again whenever any
    pytest session starts on the machine."""
    folder = Path(tempfile.mkdtemp(prefix="accounting-chaos-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_chaos_run_with_every_fault_loses_nothing_and_posts_nothing_twice(
    data_dir: Path,
) -> None:
    if not bouncer_installed() and IN_CI:
        pytest.fail("pgbouncer is not installed: CI must restart it during the chaos run")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tasks.cli",
            "chaos",
            "--documents",
            "5000",
            "--fault-every",
            "2.5",
            "--rate",
            "400",
            "--outage",
            "8",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=880,
        env={**os.environ, "ACCOUNTING_DATA_DIR": str(data_dir)},
    )
    assert completed.stdout.strip(), completed.stderr[-4000:]
    verdict = json.loads(completed.stdout.splitlines()[-1])
    assert verdict["expected"] == 5000
    assert (verdict["lost"], verdict["duplicated"], verdict["unbalanced"]) == (0, 0, 0), verdict
    assert verdict["posted"] == 5000
    assert verdict["not_accepted_chunks"] == 0, verdict  # the client confirmed every chunk
    assert verdict["updates"] > 0 and verdict["recreates"] > 0
    # the hostile tenant's oversized and poison messages: refused or quarantined, every one
    assert set(verdict["hostile_sent"]) == {"oversized", "poison"}
    assert verdict["hostile_kept"] == verdict["hostile_sent"]
    expected_faults = [f for f in FAULTS if f not in BOUNCER_FAULTS or bouncer_installed()]
    assert all(verdict["faults"].get(fault, 0) >= 1 for fault in expected_faults), verdict
    assert completed.returncode == 0, completed.stderr[-4000:]
