"""README's "Integrate" examples, run as an application runs them: in a virtual environment
of their own with only the client installed (not the workers), against real workers, a real
`accounting serve`, real Redis and Postgres."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from accounting.services import tokens

from helpers import Server, count, invoice, wait_for

pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def client_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with the client, Flask and Django, and nothing of the workers."""
    home = tmp_path_factory.mktemp("client-venv")
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    installed = subprocess.run(
        [python, "-m", "pip", "install", "-q", str(ROOT / "client"), "flask>=3", "django>=5"],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert installed.returncode == 0, installed.stderr[-4000:]
    alone = subprocess.run([python, "-c", "import accounting"], cwd=home, capture_output=True)
    assert alone.returncode != 0  # the workers' package is not there
    return python


def _run(python: Path, cwd: Path, env: dict[str, str], script: str) -> Any:
    completed = subprocess.run(
        [python, "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.splitlines()[-1])


FLASK_SCRIPT = """
import json
from app import app
http = app.test_client()
sync = http.post("/orgs/ORG/documents", json={"documents": DOCUMENTS}).get_json()
recreate = http.post("/orgs/ORG/recreate", json={"document_ids": ["inv-1"]}).get_json()
print(json.dumps({
    "sync": sync,
    "recreate": recreate,
    "sync_events": http.get(f"/jobs/{sync['job_id']}/events").get_json(),
    "recreate_events": http.get(f"/jobs/{recreate['job_id']}/events").get_json(),
    "signup": http.post("/signup", json={"email": "ada@example.com"}).get_json(),
}))
"""


def test_a_flask_shop_syncs_recreates_and_follows_its_jobs_while_its_own_task_runs(
    client_python: Path,
    workers: Any,
    server: Server,
    uow: Any,
    org: str,
    engine: Engine,
    redis_url: str,
    tmp_path: Path,
) -> None:
    workers.start("accounting.normal", concurrency=1)
    workers.start("accounting.high", concurrency=1)
    workers.wait_ready()
    env = {
        "PATH": os.environ["PATH"],
        "SHOP_BROKER_URL": redis_url,  # the shop shares the broker with accounting
        "ACCOUNTING_REDIS_URL": redis_url,
        "ACCOUNTING_API_URL": server.url,
        "ACCOUNTING_API_TOKEN": tokens.create_token(uow(), org),
    }
    app_dir = EXAMPLES / "flask_app"
    with (tmp_path / "shop-worker.log").open("wb") as log:
        shop_worker = subprocess.Popen(
            [
                client_python.parent / "celery",
                "-A",
                "app:celery_app",
                "worker",
                "-Q",
                "shop",
                "-c",
                "1",
                "--pool",
                "solo",
            ],
            cwd=app_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        documents = [invoice("inv-1"), {**invoice("inv-2"), "currency": "EURO"}]
        script = FLASK_SCRIPT.replace("ORG", org).replace("DOCUMENTS", json.dumps(documents))
        seen = _run(client_python, app_dir, env, script)
    finally:
        shop_worker.terminate()
        shop_worker.wait(timeout=30)
    assert seen["sync"]["changed"] == ["inv-1"]
    assert [r["document_id"] for r in seen["sync"]["rejected"]] == ["inv-2"]
    sync_events = [event["type"] for event in seen["sync_events"]]
    assert sync_events[0] == "accepted" and sync_events[-1] == "done", sync_events
    rejected = [e["data"] for e in seen["sync_events"] if e["type"] == "rejected"]
    assert [(r["document_id"], r["field"]) for r in rejected] == [("inv-2", "currency")]
    assert seen["recreate_events"][-1]["type"] == "done"
    assert seen["recreate_events"][-1]["data"]["posted"] == 1
    assert seen["signup"] == "welcome sent to ada@example.com"  # the shop's task, its queue
    active = "SELECT count(*) FROM journal_entries WHERE org_id = :org AND status = 'active'"
    assert count(engine, active, org=org) == 1


DJANGO_SCRIPT = """
import json, django
django.setup()
from django.core.management import call_command
from django.db import transaction
from shop.booking import place_order
call_command("migrate", verbosity=0)
try:
    with transaction.atomic():
        place_order("ORG", "ord-rolled-back", "10.00", "2026-03-02")
        raise RuntimeError("payment declined")
except RuntimeError:
    pass
order = place_order("ORG", "ord-1", "25.00", "2026-03-02")
print(json.dumps({"job": order.accounting_job}))
"""


def test_a_django_order_is_sent_on_commit_and_nothing_on_rollback(
    client_python: Path,
    workers: Any,
    org: str,
    engine: Engine,
    redis_url: str,
    tmp_path: Path,
) -> None:
    workers.start("accounting.normal", concurrency=1)
    workers.wait_ready()
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SHOP_DATABASE": str(tmp_path / "shop.sqlite3"),
        "ACCOUNTING_REDIS_URL": redis_url,
    }
    seen = _run(client_python, EXAMPLES / "django_project", env, DJANGO_SCRIPT.replace("ORG", org))
    assert seen["job"]
    stored = "SELECT id FROM documents WHERE org_id = :org"
    with engine.connect() as connection:
        from sqlalchemy import text

        ids = [row[0] for row in connection.execute(text(stored), {"org": org})]
    assert ids == ["ord-1"]  # the rolled-back order sent nothing
    active = "SELECT count(*) FROM journal_entries WHERE org_id = :org AND status = 'active'"
    wait_for(lambda: count(engine, active, org=org) == 1, 60, "the order posted", workers)
