"""The dispatcher on real Postgres and Redis, with a publisher that records what it is given."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from sqlalchemy import Engine, text

from accounting.config import Settings
from accounting.domain.batching import Batch
from accounting.domain.lanes import Lane
from accounting.services import documents as documents_service
from accounting.services import posting
from accounting.services import queue as queue_service
from accounting.services import recreate as recreate_service
from accounting.services.dispatcher import Dispatcher
from accounting.services.effects import Effects
from accounting.services.jobs import JobAnnouncer
from accounting.store.uow import UnitOfWork
from accounting.volatile import keys
from accounting.volatile.capacity import WorkerSlots
from accounting.volatile.outstanding import OutstandingBatches
from accounting.volatile.progress import ProgressStream
from accounting.volatile.wakeup import Wakeup

from helpers import count, invoice, wait_for


def dispatcher(
    engine: Engine, client: redis.Redis, sent: list[Batch], **settings: Any
) -> Dispatcher:
    defaults = {"batch_size": 10, "batch_cost": 10, "window_batches": 3, "lease_seconds": 60}
    config = Settings(**{**defaults, **settings})
    return Dispatcher(lambda: UnitOfWork(engine), sent.append, Wakeup(client), config)


def upsert(uow: Any, org: str, n: int, prefix: str = "inv") -> None:
    docs = [invoice(f"{prefix}-{i:03d}") for i in range(n)]
    documents_service.upsert_documents(uow(), org, docs, max_documents=1000)


def test_pending_documents_are_published_in_batches_up_to_the_window(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    upsert(uow, org, 45)
    sent: list[Batch] = []
    node = dispatcher(engine, redis_client, sent)
    assert node.run_once() == 3  # the window: 3 batches of 10
    assert [len(b.versions) for b in sent] == [10, 10, 10]
    assert node.run_once() == 0  # full window: nothing more until batches finish
    batch = sent[0]
    posting.post_documents(uow(), batch.org_id, batch.versions)
    assert node.run_once() == 1  # room for one more batch


def test_high_lane_documents_are_published_first_and_marked_high(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    upsert(uow, org, 25)
    recreate_service.request_recreate(uow(), org, ["inv-020", "inv-021"], hold_seconds=None)
    sent: list[Batch] = []
    dispatcher(engine, redis_client, sent, window_batches=1).run_once()
    assert sent[0].lane is Lane.HIGH
    assert sent[0].versions == {"inv-020": 2, "inv-021": 2}


def test_an_expired_lease_is_reclaimed_without_penalty(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    upsert(uow, org, 5)
    sent: list[Batch] = []
    node = dispatcher(engine, redis_client, sent)
    node.run_once()
    assert node.run_once() == 0  # leased: not published twice
    with engine.begin() as connection:  # the batch was lost with Redis; its lease runs out
        connection.execute(text("UPDATE documents SET lease_until = now() - interval '1 second'"))
    assert node.run_once() == 1  # nothing failed: handed out again as one batch
    assert sent[1].versions == sent[0].versions
    assert count(engine, "SELECT count(*) FROM documents WHERE attempts > 0") == 0


def test_a_document_whose_posting_failed_is_published_alone(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    upsert(uow, org, 5)
    sent: list[Batch] = []
    node = dispatcher(engine, redis_client, sent)
    node.run_once()
    posting.postpone_documents(uow(), org, {"inv-002": 1}, "KeyError: 'components'")
    with engine.begin() as connection:  # the batch died; its leases and the backoff run out
        connection.execute(text("UPDATE documents SET lease_until = now() - interval '1 second'"))
    assert node.run_once() == 2
    alone = [batch for batch in sent[1:] if "inv-002" in batch.versions]
    assert [list(batch.versions) for batch in alone] == [["inv-002"]]


def test_a_document_claimed_many_times_but_never_failed_is_never_given_up_on(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    """The high pool down for longer than max_attempts x lease: nothing may die."""
    upsert(uow, org, 1)
    sent: list[Batch] = []
    node = dispatcher(engine, redis_client, sent, max_attempts=2)
    for _ in range(5):
        node.run_once()
        with engine.begin() as connection:
            connection.execute(text("UPDATE documents SET lease_until = now() - interval '1 s'"))
    assert len(sent) == 5
    assert queue_service.status(uow(), org)["dead"] == 0


def test_a_document_whose_posting_fails_too_often_ends_dead_with_the_reason(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    upsert(uow, org, 1)
    sent: list[Batch] = []
    node = dispatcher(engine, redis_client, sent, max_attempts=2)
    for _ in range(3):
        if node.run_once():
            posting.postpone_documents(uow(), org, {"inv-000": 1}, "KeyError: 'components'")
        with engine.begin() as connection:
            connection.execute(text("UPDATE documents SET lease_until = now() - interval '1 s'"))
    assert len(sent) == 2
    status = queue_service.status(uow(), org)
    assert status["dead"] == 1
    with engine.connect() as connection:
        reason = connection.execute(text("SELECT last_error FROM documents")).scalar_one()
    assert reason == "gave up after 2 attempts: KeyError: 'components'"


def test_only_one_dispatcher_leads_and_a_standby_takes_over_when_its_lease_expires(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    upsert(uow, org, 5)
    first_sent: list[Batch] = []
    second_sent: list[Batch] = []
    first = dispatcher(engine, redis_client, first_sent)
    second = dispatcher(engine, redis_client, second_sent)
    first.run_once()
    upsert(uow, org, 5, prefix="more")
    assert second.run_once() == 0  # stands by while the first leads
    with engine.begin() as connection:  # the leader dies and stops renewing
        connection.execute(text("UPDATE dispatcher_leases SET expires_at = now() - interval '1 s'"))
    assert second.run_once() == 1
    assert sorted(second_sent[0].versions) == [f"more-{i:03d}" for i in range(5)]
    assert first.run_once() == 0  # the old leader now stands by


def test_a_stopping_leader_resigns_so_a_standby_leads_on_its_next_round(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    upsert(uow, org, 5)
    first_sent: list[Batch] = []
    second_sent: list[Batch] = []
    first = dispatcher(engine, redis_client, first_sent)
    second = dispatcher(engine, redis_client, second_sent)
    assert first.run_once() == 1
    upsert(uow, org, 5, prefix="more")
    assert second.run_once() == 0  # stands by: the leader's lease is still running
    stop = threading.Event()
    stop.set()  # a warm shutdown asked the loop to end before its next round
    first.run_forever(stop)
    assert Wakeup(redis_client).wait(0.5) is True  # the standby is nudged, not left to poll
    assert second.run_once() == 1  # leads at once, without waiting for the lease to expire
    assert sorted(second_sent[0].versions) == [f"more-{i:03d}" for i in range(5)]
    assert first.run_once() == 0
    with engine.connect() as connection:
        holder = connection.execute(text("SELECT holder FROM dispatcher_leases")).scalar_one()
    assert holder == second.holder


def test_resigning_without_the_leadership_takes_it_from_nobody(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    leader = dispatcher(engine, redis_client, [])
    standby = dispatcher(engine, redis_client, [])
    leader.run_once()
    standby.resign()
    with engine.connect() as connection:
        holder = connection.execute(text("SELECT holder FROM dispatcher_leases")).scalar_one()
    assert holder == leader.holder


def test_a_wakeup_is_received_by_the_waiting_dispatcher(redis_client: redis.Redis) -> None:
    wakeup = Wakeup(redis_client)
    assert wakeup.wait(0.05) is False
    wakeup.notify()
    wakeup.notify()  # coalesced: one slot
    assert wakeup.wait(1) is True
    assert wakeup.wait(0.05) is False


def test_a_batch_still_waiting_in_the_broker_is_not_published_again_when_its_lease_runs_out(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    """The review's H1: with the high pool down, a lease expiry published every batch again
    (52,298 duplicates in Redis). Now a batch waiting in the broker keeps its leases."""
    upsert(uow, org, 10)
    sent: list[Batch] = []
    queued = {"messages": 1}  # the pool is down: the batch waits in the broker
    outstanding = OutstandingBatches(redis_client, ttl_seconds=3600)
    config = Settings(batch_size=10, batch_cost=10, window_batches=3, lease_seconds=5)
    node = Dispatcher(
        lambda: UnitOfWork(engine),
        sent.append,
        Wakeup(redis_client),
        config,
        outstanding=outstanding,
        broker_backlog=lambda lane: queued["messages"],
    )
    assert node.run_once() == 1
    for _ in range(3):  # three lease periods pass, the batch still waiting
        redis_client.zadd(keys.OUTSTANDING + "normal", {sent[0].id: time.time() - 5})
        with engine.begin() as connection:
            connection.execute(text("UPDATE documents SET lease_until = now() + interval '1 s'"))
        wait_for(
            lambda: count(engine, "SELECT count(*) FROM documents WHERE lease_until < now()") == 10,
            5,
            "the leases about to run out",
        )
        assert node.run_once() == 0  # kept leased, not published twice
    queued["messages"] = 0  # the broker lost it (a flush): the leases run out, it goes again
    redis_client.zadd(keys.OUTSTANDING + "normal", {sent[0].id: time.time() - 5})
    node.run_once()
    with engine.begin() as connection:
        connection.execute(text("UPDATE documents SET lease_until = now() - interval '1 s'"))
    assert node.run_once() == 1
    assert sent[1].versions == sent[0].versions


def test_a_job_whose_document_is_given_up_on_ends_with_failed_and_done(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    """The review's M2: a document buried after too many attempts left its job at "1 of 2"
    for ever on its stream, though GET /v1/jobs said done."""
    documents_service.upsert_documents(
        uow(), org, [invoice("good"), invoice("poison")], max_documents=10, job_id="job-1"
    )
    posting.post_documents(uow(), org, {"good": 1})
    posting.postpone_documents(uow(), org, {"poison": 1}, "KeyError: 'components'")
    with engine.begin() as connection:
        connection.execute(text("UPDATE documents SET lease_until = now() - interval '1 s'"))
    stream = ProgressStream(redis_client, 3600)
    effects = Effects(
        lambda: None, JobAnnouncer(lambda: UnitOfWork(engine), lambda: stream, lambda lane: None)
    )
    sent: list[Batch] = []
    config = Settings(batch_size=10, batch_cost=10, window_batches=3, max_attempts=1)
    Dispatcher(
        lambda: UnitOfWork(engine, effects), sent.append, Wakeup(redis_client), config
    ).run_once()
    events = stream.read("job-1")
    assert [e.type for e in events][-3:] == ["failed", "progress", "done"]
    assert events[-3].data == {
        "document_id": "poison",
        "reason": "gave up after 1 attempts: KeyError: 'components'",
    }
    assert events[-1].data == {"posted": 1, "failed": 1, "total": 2}


def test_the_window_follows_the_consumer_slots_the_workers_announce(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    upsert(uow, org, 200)
    slots = WorkerSlots(redis_client)
    sent: list[Batch] = []
    config = Settings(
        batch_size=10,
        batch_cost=10,
        window_batches=3,
        lease_seconds=60,
        window_batches_per_slot=2,
    )
    node = Dispatcher(
        lambda: UnitOfWork(engine), sent.append, Wakeup(redis_client), config, slots=slots.live
    )
    assert node.run_once() == 3  # nobody announced: the floor
    slots.announce(Lane.NORMAL, "worker-a", 4)
    slots.announce(Lane.NORMAL, "worker-b", 4)
    assert node.run_once() == 16 - 3  # 8 slots x 2 batches, 3 of them already out
    slots.withdraw(Lane.NORMAL, "worker-a")
    assert node.run_once() == 0  # fewer slots: no more until batches finish


def test_a_fixed_window_ignores_the_slots(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    upsert(uow, org, 200)
    slots = WorkerSlots(redis_client)
    slots.announce(Lane.NORMAL, "worker-a", 8)
    sent: list[Batch] = []
    config = Settings(
        batch_size=10,
        batch_cost=10,
        window_batches=3,
        lease_seconds=60,
        window_follows_capacity=False,
    )
    node = Dispatcher(
        lambda: UnitOfWork(engine), sent.append, Wakeup(redis_client), config, slots=slots.live
    )
    assert node.run_once() == 3
