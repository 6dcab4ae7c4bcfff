"""Safe deploys on real workers: warm shutdown, a rolling restart, messages of the last release."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from accounting import demo_data
from accounting.services import documents as documents_service
from accounting.services import queue as queue_service
from celeryconfig import HIGH_QUEUE, NORMAL_QUEUE

from helpers import (
    assert_posted_exactly_once,
    await_lock_wait,
    count,
    invoice,
    unbalanced_entries,
    wait_for,
)

pytestmark = pytest.mark.timeout(180)

# Longer than any wait below: work that reaches a worker only through an expired lease (rather
# than through Redis or a warm shutdown) makes the test time out instead of passing late.
SLOW_RECOVERY = {"ACCOUNTING_LEASE_SECONDS": "300"}
KOMBU_UNACKED = "unacked"  # kombu's Redis hash of delivered, not yet acknowledged messages


def posted(uow: Any, org: str) -> int:
    return int(queue_service.status(uow(), org)["posted"])


def pending(uow: Any, org: str) -> int:
    status = queue_service.status(uow(), org)
    return int(status["pending_high"] + status["pending_normal"])


def leader(engine: Any) -> str | None:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT holder FROM dispatcher_leases WHERE expires_at > now()")
        ).scalar_one_or_none()


def store(uow: Any, org: str, n: int, prefix: str) -> list[str]:
    """Documents stored directly (no worker needed); returns their ids."""
    docs = list(demo_data.documents(n, prefix=prefix))
    documents_service.upsert_documents(uow(), org, docs, max_documents=n)
    return [d["id"] for d in docs]


def test_sigterm_mid_batch_finishes_the_batch_exits_0_and_leaves_the_next_batch_in_redis(
    workers: Any, engine: Any, uow: Any, org: str, redis_client: Any
) -> None:
    store(uow, org, 200, "big")
    two_batches = {
        **SLOW_RECOVERY,
        "ACCOUNTING_BATCH_SIZE": "100",
        "ACCOUNTING_BATCH_COST": "1000000",
    }
    with engine.connect() as blocker:
        # Holds the first batch mid-flight, in its transaction, for as long as the test needs:
        # posting writes journal entries, which this lock blocks (claiming does not).
        blocker.execute(text("LOCK TABLE journal_entries IN SHARE MODE"))
        victim = workers.start(NORMAL_QUEUE, concurrency=1, env=two_batches)
        workers.wait_ready()
        await_lock_wait(engine, timeout=60)  # a batch is in flight

        workers.shut_down(victim)
        wait_for(lambda: "Warm shutdown" in victim.log_path.read_text(), 30, "SIGTERM handled")
        assert victim.process.poll() is None  # waiting for its batch, not exiting under it
        assert posted(uow, org) == 0
        blocker.rollback()  # the batch may go on
        code = workers.wait_exit(victim, timeout=60)

    log = victim.log_path.read_text()
    assert code == 0, log  # a warm shutdown, not a kill
    after_signal = log[log.index("Warm shutdown") :]
    assert re.search(r"accounting\.post_batch\[[\w-]+\] succeeded", after_signal), log
    assert posted(uow, org) == 100  # the batch in flight at SIGTERM was finished
    assert "resigned the leadership" in log and leader(engine) is None
    assert redis_client.llen(NORMAL_QUEUE) == 1  # the second batch, never started, still queued
    assert redis_client.hlen(KOMBU_UNACKED) == 0  # the finished one was acknowledged

    workers.start(NORMAL_QUEUE, concurrency=1, env=SLOW_RECOVERY)
    wait_for(lambda: posted(uow, org) == 200, 60, "the rest posted by the next worker", workers)
    assert_posted_exactly_once(engine, org, 200)


def wave(org: str, n: int, prefix: str, seed: int = 7) -> Any:
    """Documents sent as an application does, not awaited: work arriving during the deploy."""
    from tasks.documents import upsert_documents

    return upsert_documents.delay(org, list(demo_data.documents(n, prefix=prefix, seed=seed)))


def test_a_rolling_restart_of_every_worker_during_a_run_loses_and_duplicates_nothing(
    workers: Any, engine: Any, uow: Any, make_org: Any
) -> None:
    from tasks.documents import recreate

    orgs = [make_org("north"), make_org("south")]
    for org in orgs:  # the run lasts ~30 s, so every restart happens while it posts
        queue_service.set_schedule(uow(), org, rate_per_second=Decimal(100))
    env = {**SLOW_RECOVERY, "ACCOUNTING_BATCH_SIZE": "50"}
    old = [workers.start(q, env=env) for q in (NORMAL_QUEUE, NORMAL_QUEUE, HIGH_QUEUE)]
    workers.wait_ready()
    sent = [wave(org, 1000, org) for org in orgs]
    for result in sent:
        result.get(timeout=60)
    jobs = []
    exit_codes: dict[str, int | None] = {}
    for step, worker in enumerate(old):
        # While each worker is replaced: new documents, changes to earlier ones, user recreates
        # (a small one posted inline by the high pool, a larger one dispatched on the high lane).
        sent += [wave(org, 600, f"{org}-{step}") for org in orgs]
        sent.append(wave(orgs[step % 2], 100, orgs[step % 2], seed=100 + step))
        jobs.append(recreate.delay(orgs[0], [f"north-{i:07d}" for i in range(step, 3 + step)]))
        jobs.append(recreate.delay(orgs[1], [f"south-{i:07d}" for i in range(40)]))
        workers.start(worker.queue, env=env)
        workers.wait_ready()
        assert sum(pending(uow, o) for o in orgs) > 0  # the deploy overlaps the run
        exit_codes[worker.name] = workers.terminate(worker)

    assert exit_codes == {w.name: 0 for w in old}  # every old worker left by warm shutdown
    for result in sent:
        assert not result.get(timeout=60)["rejected"]
    for job in jobs:
        assert not job.get(timeout=60)["rejected"]
    wait_for(lambda: sum(pending(uow, o) for o in orgs) == 0, 60, "everything posted", workers)
    for org in orgs:
        assert_posted_exactly_once(engine, org, 1000 + 3 * 600)
    logs = [w.log_path.read_text() for w in old]
    assert all("Warm shutdown" in log for log in logs)
    assert not any("WorkerLostError" in log for log in logs)  # no task died with its process


def test_version_one_batches_left_in_redis_by_the_previous_release_are_posted(
    workers: Any, engine: Any, uow: Any, org: str, celery_app: Any
) -> None:
    ids = store(uow, org, 30, "old")
    first, second, future = ids[:10], ids[10:20], ids[20:]
    # Exactly what the previous release's dispatcher sent (schema 1; the first one none at all).
    no_dispatcher = {"ACCOUNTING_RUN_DISPATCHER": "false"}
    celery_app.send_task(
        "accounting.post_batch",
        args=(org, dict.fromkeys(future, 1)),
        kwargs={"schema": 3, "lane": "normal", "dispatched_at": 1.0, "deadline": 2.0},
        queue=NORMAL_QUEUE,
    )
    celery_app.send_task(
        "accounting.post_batch",
        args=(org, dict.fromkeys(first, 1)),
        kwargs={"schema": 1},
        queue=NORMAL_QUEUE,
    )
    celery_app.send_task(
        "accounting.post_batch", args=(org, dict.fromkeys(second, 1)), queue=HIGH_QUEUE
    )
    normal = workers.start(NORMAL_QUEUE, concurrency=1, env=no_dispatcher)
    high = workers.start(HIGH_QUEUE, concurrency=1, env=no_dispatcher)
    workers.wait_ready()

    wait_for(lambda: posted(uow, org) == 20, 60, "both version-1 batches posted", workers)
    assert_posted_exactly_once_for(engine, org, first + second)
    # The version-1 messages name no lane: it is read from the queue they came from.
    assert "'lane': 'normal'" in normal.log_path.read_text()
    assert "'lane': 'high'" in high.log_path.read_text()
    # The one from a future release was refused at once, by name, and not retried.
    wait_for(lambda: "UnsupportedPayload" in normal.log_path.read_text(), 30, "the refusal")
    log = normal.log_path.read_text()
    assert "accounting.post_batch: payload schema 3 is not supported" in log
    assert "Retry in" not in log
    assert posted(uow, org) == 20
    assert leader(engine) is None  # no dispatcher ran: the old messages did all the posting


def assert_posted_exactly_once_for(engine: Any, org: str, ids: list[str]) -> None:
    active = count(
        engine,
        "SELECT count(*) FROM journal_entries WHERE org_id = :o AND status = 'active'"
        " AND document_id = ANY(:ids)",
        o=org,
        ids=ids,
    )
    assert active == len(ids)
    assert unbalanced_entries(engine) == 0


def test_application_tasks_without_a_schema_and_with_schema_2_are_both_accepted(
    workers: Any, uow: Any, org: str
) -> None:
    from tasks.documents import recreate, upsert_documents

    workers.start(NORMAL_QUEUE, concurrency=1)
    workers.start(HIGH_QUEUE, concurrency=1)
    workers.wait_ready()
    old = upsert_documents.apply_async((org, [invoice("inv-1")])).get(timeout=30)
    new = upsert_documents.apply_async((org, [invoice("inv-2")]), {"schema": 2}).get(timeout=30)
    assert old["changed"] == ["inv-1"] and new["changed"] == ["inv-2"]
    assert new["schema"] == 2
    redo = recreate.apply_async((org, ["inv-1"]), {"schema": 1}).get(timeout=30)
    assert redo["posted"] == ["inv-1"]
    refused = recreate.apply_async((org, ["inv-1"]), {"schema": 3})
    with pytest.raises(Exception, match=r"accounting\.recreate: payload schema 3"):
        refused.get(timeout=30)
    assert refused.state == "FAILURE"  # refused once, not retried
