"""Nothing accepted is acknowledged into nothing, on real workers: a sync waits out a long
database outage; one that cannot be applied for longer than the retry window is kept whole and
sent again by an operator; a message that kills its worker process is quarantined; a worker
takes nothing while Postgres is unreachable or not migrated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from sqlalchemy import Engine, text

from accounting.services.intake import dead_messages
from accounting.services.queue import status
from accounting.store.migrate import head_revision
from tasks.tools.proxy import TcpProxy, postgres_target, proxy, through

from helpers import await_lock_wait, invoice, wait_for

pytestmark = pytest.mark.timeout(240)

QUICK_RETRIES = {"ACCOUNTING_RETRY_CAP_SECONDS": "0.5", "ACCOUNTING_DATABASE_PROBE_SECONDS": "0.5"}


def posted(uow: Any, org: str) -> int:
    return int(status(uow(), org)["posted"])


@pytest.fixture
def database_proxy(database_url: str) -> Iterator[TcpProxy]:
    with proxy(postgres_target(database_url)) as running:
        yield running


def test_a_sync_sent_while_postgres_is_unreachable_waits_for_it_and_is_applied(
    workers: Any, uow: Any, org: str, database_url: str, database_proxy: TcpProxy
) -> None:
    """The review's H4: 5 retries over about 12-31 s, then the message was acknowledged and its
    documents never stored. Now the worker stops taking messages while Postgres is away."""
    from tasks.documents import upsert_documents

    env = {"ACCOUNTING_DATABASE_URL": through(database_url, database_proxy), **QUICK_RETRIES}
    worker = workers.start("accounting.normal", env=env)
    workers.wait_ready()
    database_proxy.cut()
    wait_for(lambda: "not taking messages" in worker.log_tail(), 30, "the gate closed", workers)
    sent = upsert_documents.delay(org, [invoice("inv-1"), invoice("inv-2")])
    time.sleep(35)  # longer than the old code's 5 retries took (12 to 31 s)
    assert sent.state == "PENDING" and posted(uow, org) == 0  # not taken, not dropped
    database_proxy.heal()
    assert sent.get(timeout=60)["changed"] == ["inv-1", "inv-2"]
    wait_for(lambda: posted(uow, org) == 2, 60, "both posted", workers)
    assert dead_messages(uow(), org) == []


@pytest.fixture
def components_table_away(engine: Engine) -> Iterator[None]:
    """A schema a sync cannot be applied to, while Postgres answers (as after a bad deploy)."""
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE document_components RENAME TO components_away"))
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE components_away RENAME TO document_components"))


def test_a_sync_that_cannot_be_applied_within_the_retry_window_is_kept_whole_and_sent_again(
    workers: Any, uow: Any, org: str, engine: Engine, components_table_away: None
) -> None:
    from tasks.documents import upsert_documents

    env = {"ACCOUNTING_INTAKE_RETRY_SECONDS": "3", **QUICK_RETRIES}
    workers.start("accounting.normal", env=env)
    workers.wait_ready()
    sent = upsert_documents.delay(org, [invoice("inv-1")])
    with pytest.raises(Exception, match="gave up after") as given_up:
        sent.get(timeout=60)
    assert type(given_up.value).__name__ == "GivenUp"
    (kept,) = dead_messages(uow(), org)
    assert (kept.task_id, kept.task_name) == (sent.id, "accounting.upsert_documents")
    assert kept.args == [org, [invoice("inv-1")]] and "schema is not migrated" in kept.reason

    with engine.begin() as connection:  # the operator mends the schema, then sends it again
        connection.execute(text("ALTER TABLE components_away RENAME TO document_components"))
    cli = subprocess.run(
        [sys.executable, "-m", "tasks.cli", "dead", "retry", "--org", org, "--intake"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "1 messages of acme sent again" in cli.stdout
    wait_for(lambda: posted(uow, org) == 1, 60, "the kept sync posted", workers)
    assert dead_messages(uow(), org) == []  # retried: listed only with --retried
    with engine.begin() as connection:  # for the fixture's clean-up
        connection.execute(text("ALTER TABLE document_components RENAME TO components_away"))


def pool_children(worker: Any) -> list[psutil.Process]:
    return psutil.Process(worker.process.pid).children()


def test_a_message_that_kills_its_worker_process_is_quarantined_after_three_deliveries(
    workers: Any, uow: Any, org: str, engine: Engine
) -> None:
    """The review's H2: a message killing its pool process was delivered again forever."""
    from tasks.documents import upsert_documents

    worker = workers.start("accounting.normal", env={"ACCOUNTING_RUN_DISPATCHER": "false"})
    workers.wait_ready()
    with engine.connect() as blocker:
        blocker.execute(text("LOCK TABLE documents IN SHARE MODE"))  # the upsert waits on it
        sent = upsert_documents.delay(org, [invoice("poison")])
        for delivery in range(1, 4):  # the OOM killer, three times, while it runs
            # (a killed process's session keeps waiting: each delivery adds one)
            await_lock_wait(engine, timeout=30, at_least=delivery)
            (child,) = pool_children(worker)
            child.send_signal(signal.SIGKILL)
            wait_for(
                lambda c=child: c.pid not in [p.pid for p in pool_children(worker)],
                30,
                "the pool process replaced",
            )
        blocker.rollback()
    with pytest.raises(Exception, match="killed its worker process on 3 deliveries"):
        sent.get(timeout=60)
    (kept,) = dead_messages(uow(), org)
    assert kept.task_id == sent.id and kept.args == [org, [invoice("poison")]]
    assert kept.deliveries == 4  # three killed it, the fourth kept it
    healthy = upsert_documents.delay(org, [invoice("inv-1")])  # the worker goes on working
    assert healthy.get(timeout=60)["changed"] == ["inv-1"]


def test_a_worker_started_before_the_migrations_says_why_and_takes_nothing_until_migrated(
    workers: Any, scratch_database: str, org: str, uow: Any
) -> None:
    from tasks.documents import upsert_documents

    env = {"ACCOUNTING_DATABASE_URL": scratch_database, **QUICK_RETRIES}
    worker = workers.start("accounting.normal", env=env)
    workers.wait_ready()
    wait_for(lambda: "run `accounting migrate`" in worker.log_tail(), 30, "the reason", workers)
    assert f"this code needs revision {head_revision()}" in worker.log_tail()
    sent = upsert_documents.delay("elsewhere", [invoice("inv-1")])
    migrated = subprocess.run(
        [sys.executable, "-m", "tasks.cli", "migrate"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ACCOUNTING_DATABASE_URL": scratch_database},
    )
    assert migrated.returncode == 0, migrated.stderr
    # taken once the schema is there: an unknown organization there, at once, not retried
    with pytest.raises(Exception, match="unknown organization 'elsewhere'"):
        sent.get(timeout=60)
    assert "Traceback" not in worker.log_tail(200).split("taking messages again")[0]


def test_without_a_broker_url_a_worker_refuses_to_start_naming_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCOUNTING_")}
    started = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks.app:app", "worker", "-Q", "x", "-c", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert started.returncode != 0
    assert "ACCOUNTING_REDIS_URL is not set" in started.stdout + started.stderr
