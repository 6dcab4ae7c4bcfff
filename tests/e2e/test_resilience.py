"""Crash safety on real workers: failover, Redis flushed, SIGKILL, poison, pause, superseded."""

from __future__ import annotations

import signal
from functools import partial
from typing import Any

import pytest
from sqlalchemy import text

from accounting import demo_data
from accounting.config import Settings
from accounting.services import documents as documents_service
from accounting.services import queue as queue_service
from accounting.services.dispatcher import Dispatcher
from accounting.volatile.wakeup import Wakeup

from helpers import active_entries, assert_posted_exactly_once, count, invoice, wait_for

pytestmark = pytest.mark.timeout(240)

# Short leases so lost work comes back within seconds rather than minutes.
FAST_RECOVERY = {"ACCOUNTING_LEASE_SECONDS": "5", "ACCOUNTING_MAX_ATTEMPTS": "3"}


def submit(org: str, n: int, prefix: str) -> None:
    from tasks.documents import upsert_documents

    docs = list(demo_data.documents(n, prefix=prefix))
    results = [upsert_documents.delay(org, docs[i : i + 500]) for i in range(0, n, 500)]
    assert sum(len(r.get(timeout=60)["changed"]) for r in results) == n


def posted(uow: Any, org: str) -> int:
    return int(queue_service.status(uow(), org)["posted"])


def leader(engine: Any) -> str | None:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT holder FROM dispatcher_leases WHERE expires_at > now()")
        ).scalar_one_or_none()


def test_a_standby_dispatcher_takes_over_when_the_leader_is_killed(
    workers: Any, engine: Any, uow: Any, org: str
) -> None:
    first = workers.start("accounting.normal", env=FAST_RECOVERY)
    second = workers.start("accounting.normal", env=FAST_RECOVERY)
    workers.wait_ready()
    wait_for(lambda: leader(engine) is not None, 30, "a leader", workers)
    was_leading = leader(engine)
    killed, survivor = (first, second) if was_leading == first.name else (second, first)
    workers.kill(killed)

    submit(org, 300, "after")
    wait_for(lambda: posted(uow, org) == 300, 90, "300 posted after the failover", workers)
    assert leader(engine) == survivor.name
    assert_posted_exactly_once(engine, org, 300)


def test_flushing_redis_mid_run_still_posts_every_document_exactly_once(
    workers: Any, engine: Any, uow: Any, org: str, redis_client: Any
) -> None:
    workers.start("accounting.normal", concurrency=2, env=FAST_RECOVERY)
    workers.wait_ready()
    submit(org, 2000, "flush")
    wait_for(lambda: posted(uow, org) > 100, 60, "posting under way", workers)
    assert posted(uow, org) < 2000
    redis_client.flushdb()  # in-flight batches, results, wake-ups: all gone
    wait_for(lambda: posted(uow, org) == 2000, 120, "2000 posted after FLUSHALL", workers)
    assert_posted_exactly_once(engine, org, 2000)


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    workers: Any, engine: Any, uow: Any, org: str
) -> None:
    victim = workers.start("accounting.normal", concurrency=2, env=FAST_RECOVERY)
    workers.wait_ready()
    submit(org, 2000, "kill")
    wait_for(lambda: posted(uow, org) > 100, 60, "posting under way", workers)
    workers.kill(victim, signal.SIGKILL)
    assert posted(uow, org) < 2000
    workers.start("accounting.normal", concurrency=2, env=FAST_RECOVERY)
    wait_for(lambda: posted(uow, org) == 2000, 120, "2000 posted after the kill", workers)
    assert_posted_exactly_once(engine, org, 2000)


def test_a_poison_document_ends_dead_with_its_error_while_the_rest_of_its_batch_posts(
    workers: Any, engine: Any, uow: Any, org: str
) -> None:
    queue_service.set_paused(uow(), org, True)  # hold the batch back while the poison is planted
    docs = [invoice(f"inv-{n:02d}") for n in range(20)]
    documents_service.upsert_documents(uow(), org, docs, max_documents=100)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE documents SET facts = '{\"type\": \"invoice\"}' WHERE id = 'inv-07'")
        )
    workers.start("accounting.normal", env=FAST_RECOVERY)
    workers.wait_ready()
    queue_service.set_paused(uow(), org, False)

    wait_for(lambda: queue_service.status(uow(), org)["dead"] == 1, 90, "the poison dead", workers)
    assert posted(uow, org) == 19
    (dead,) = queue_service.dead_documents(uow(), org)
    assert dead.document_id == "inv-07"
    assert dead.error is not None
    assert dead.error.startswith("gave up after 3 attempts") and "KeyError" in dead.error


def test_a_paused_organization_posts_nothing_until_resumed_then_everything(
    workers: Any, engine: Any, uow: Any, make_org: Any
) -> None:
    from tasks.documents import recreate

    paused, busy = make_org("paused"), make_org("busy")
    queue_service.set_paused(uow(), paused, True)
    workers.start("accounting.high")
    workers.start("accounting.normal", concurrency=2)
    workers.wait_ready()
    submit(paused, 200, "p")
    outcome = recreate.delay(paused, ["p-0000000"]).get(timeout=30)
    assert outcome["paused"] is True and outcome["posted"] == []
    submit(busy, 200, "b")
    wait_for(lambda: posted(uow, busy) == 200, 60, "the other organization posted", workers)
    assert posted(uow, paused) == 0

    queue_service.set_paused(uow(), paused, False)
    wait_for(lambda: posted(uow, paused) == 200, 60, "the resumed organization posted", workers)
    assert active_entries(engine, paused, "p-0000000") == [2]  # the queued recreate, too


def test_a_document_updated_while_its_older_version_is_in_flight_ends_at_the_newest_only(
    workers: Any, engine: Any, uow: Any, org: str, redis_url: str, database_url: str
) -> None:
    from accounting import runtime
    from tasks import client
    from tasks.app import app

    documents_service.upsert_documents(uow(), org, [invoice("inv-1", "100.00")], max_documents=10)
    settings = Settings(database_url=database_url, redis_url=redis_url)
    publish = partial(client.publish_batch, app)
    node = Dispatcher(runtime.units(), publish, Wakeup(runtime.redis_client()), settings)
    assert node.run_once() == 1  # version 1 is in flight: in Redis, no worker yet
    documents_service.upsert_documents(uow(), org, [invoice("inv-1", "250.00")], max_documents=10)
    assert node.run_once() == 1  # version 2 is in flight too

    workers.start("accounting.normal")
    workers.wait_ready()
    wait_for(lambda: posted(uow, org) == 1, 60, "the document posted", workers)
    assert active_entries(engine, org, "inv-1") == [2]
    assert count(engine, "SELECT count(*) FROM journal_entries") == 1  # version 1 never posted
