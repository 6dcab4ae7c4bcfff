"""Fairness, pause, caps, rate limits, poison documents and dead letters on real Postgres/Redis."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from accounting.config import Settings
from accounting.domain.batching import Batch
from accounting.domain.lanes import Lane
from accounting.errors import InvalidSetting
from accounting.services import posting
from accounting.services.dispatcher import Dispatcher
from accounting.services.documents import upsert_documents
from accounting.services.queue import dead_documents, retry_dead, set_paused, set_schedule, status
from accounting.services.recreate import request_recreate
from accounting.store.uow import UnitOfWork
from accounting.volatile.ratelimit import RateLimiter
from accounting.volatile.wakeup import Wakeup

from helpers import count, invoice, versions


def dispatcher(
    engine: Engine, client: redis.Redis, sent: list[Batch], **settings: Any
) -> Dispatcher:
    defaults = {"batch_size": 10, "batch_cost": 10, "window_batches": 4, "lease_seconds": 60}
    config = Settings(**{**defaults, **settings})
    return Dispatcher(
        lambda: UnitOfWork(engine), sent.append, Wakeup(client), config, RateLimiter(client)
    )


def upsert(uow: Any, org: str, n: int, prefix: str = "inv") -> list[str]:
    docs = [invoice(f"{prefix}-{i:04d}") for i in range(n)]
    upsert_documents(uow(), org, docs, max_documents=5000)
    return [d["id"] for d in docs]


def documents_sent(sent: list[Batch]) -> Counter[str]:
    return Counter(batch.org_id for batch in sent for _ in batch.versions)


@pytest.mark.parametrize(("scheduling", "sent_first_round"), [("fair", 1), ("fifo", 0)])
def test_an_organization_with_one_document_is_not_stuck_behind_another_backlog_unless_fifo(
    engine: Engine,
    redis_client: redis.Redis,
    uow: Any,
    make_org: Any,
    scheduling: str,
    sent_first_round: int,
) -> None:
    big, small = make_org("big"), make_org("small")
    upsert(uow, big, 2000)
    upsert(uow, small, 1)
    sent: list[Batch] = []
    dispatcher(engine, redis_client, sent, scheduling=scheduling).run_once()
    assert documents_sent(sent)["small"] == sent_first_round


def test_the_normal_lane_is_shared_in_proportion_to_weights(
    engine: Engine, redis_client: redis.Redis, uow: Any, make_org: Any
) -> None:
    heavy, light = make_org("heavy"), make_org("light")
    set_schedule(uow(), heavy, weight=3)
    upsert(uow, heavy, 500)
    upsert(uow, light, 500)
    sent: list[Batch] = []
    dispatcher(engine, redis_client, sent, window_batches=8).run_once()
    assert documents_sent(sent) == {"heavy": 60, "light": 20}


def test_a_paused_organization_is_not_dispatched_until_resumed(
    engine: Engine, redis_client: redis.Redis, uow: Any, make_org: Any
) -> None:
    paused, other = make_org("paused"), make_org("other")
    set_paused(uow(), paused, True)
    upsert(uow, paused, 5)
    upsert(uow, other, 5)
    request_recreate(uow(), paused, ["inv-0000"], hold_seconds=None)  # high lane too
    sent: list[Batch] = []
    node = dispatcher(engine, redis_client, sent)
    node.run_once()
    assert documents_sent(sent) == {"other": 5}
    set_paused(uow(), paused, False)
    node.run_once()
    assert documents_sent(sent) == {"other": 5, "paused": 5}


def test_an_in_flight_cap_holds_an_organization_back(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    set_schedule(uow(), org, max_in_flight=7)
    upsert(uow, org, 50)
    sent: list[Batch] = []
    node = dispatcher(engine, redis_client, sent)
    node.run_once()
    node.run_once()
    assert documents_sent(sent)[org] == 7


def test_a_rate_limit_throttles_an_organization(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    set_schedule(uow(), org, rate_per_second=Decimal("3"))
    upsert(uow, org, 50)
    sent: list[Batch] = []
    dispatcher(engine, redis_client, sent).run_once()
    assert documents_sent(sent)[org] == 3  # one second's worth of tokens


def test_a_schedule_setting_must_be_positive(uow: Any, org: str) -> None:
    with pytest.raises(InvalidSetting, match="weight"):
        set_schedule(uow(), org, weight=0)


def test_a_poison_document_is_postponed_with_its_error_while_the_rest_post(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, 3)
    with engine.begin() as connection:  # stored posting facts that are corrupt
        connection.execute(
            text("UPDATE documents SET facts = '{\"type\": \"invoice\"}' WHERE id = 'inv-0001'")
        )
    result = posting.post_documents(uow(), org, {"inv-0000": 1, "inv-0001": 1, "inv-0002": 1})
    assert sorted(result.posted) == ["inv-0000", "inv-0002"]
    assert "KeyError" in result.postponed["inv-0001"]
    assert versions(engine, org, "inv-0001") == (1, 0, 0)  # still pending, retried later
    held = count(
        engine, "SELECT count(*) FROM documents WHERE id = 'inv-0001' AND lease_until > now()"
    )
    assert held == 1  # backing off


def test_dead_documents_are_listed_with_their_error_and_retried_on_demand(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    upsert(uow, org, 2)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE documents SET failed_version = ready_version, attempts = 5,"
                " last_error = 'boom'"
            )
        )
    dead = dead_documents(uow(), org)
    assert [(d.document_id, d.error) for d in dead] == [("inv-0000", "boom"), ("inv-0001", "boom")]
    assert retry_dead(uow(), org, ["inv-0001"]) == 1
    assert [d.document_id for d in dead_documents(uow(), org)] == ["inv-0000"]
    assert status(uow(), org)["pending_normal"] == 1
    assert retry_dead(uow(), org, None) == 1
    assert status(uow(), org)["dead"] == 0


def recreate_all_of(uow: Any, org: str, ids: list[str]) -> None:
    request_recreate(uow(), org, ids, hold_seconds=None)  # queued on the high lane


def test_the_high_lane_is_bounded_by_its_own_window(
    engine: Engine, redis_client: redis.Redis, uow: Any, org: str
) -> None:
    """The review's H1: 13,057 recreates went to Redis at once; the high lane ignored the
    window (at least 1,200 documents claimed every round, however many were in flight)."""
    recreate_all_of(uow, org, upsert(uow, org, 300))
    sent: list[Batch] = []
    node = dispatcher(engine, redis_client, sent, high_batch_cost=10, high_window_batches=2)
    node.run_once()
    node.run_once()
    high = [batch for batch in sent if batch.lane is Lane.HIGH]
    assert [len(batch.versions) for batch in high] == [10, 10]  # its window, and no more


def test_tenants_share_the_high_lane_fairly(
    engine: Engine, redis_client: redis.Redis, uow: Any, make_org: Any
) -> None:
    """The review's H5: the high lane took the oldest first across tenants: one flooding it
    pushed another's one-document recreate behind thousands."""
    flood, small = make_org("flood"), make_org("small")
    recreate_all_of(uow, flood, upsert(uow, flood, 500))
    recreate_all_of(uow, small, upsert(uow, small, 1))
    sent: list[Batch] = []
    dispatcher(engine, redis_client, sent, high_batch_cost=20, high_window_batches=2).run_once()
    assert documents_sent([b for b in sent if b.lane is Lane.HIGH])["small"] == 1


def test_a_tenants_rate_limit_and_in_flight_cap_hold_on_the_high_lane_too(
    engine: Engine, redis_client: redis.Redis, uow: Any, make_org: Any
) -> None:
    """The review's H5: a tenant throttled to 5 documents/s posted 9,000 recreates in 2.8 s."""
    throttled, capped = make_org("throttled"), make_org("capped")
    set_schedule(uow(), throttled, rate_per_second=Decimal("5"))
    set_schedule(uow(), capped, max_in_flight=7)
    recreate_all_of(uow, throttled, upsert(uow, throttled, 100))
    recreate_all_of(uow, capped, upsert(uow, capped, 100))
    sent: list[Batch] = []
    node = dispatcher(engine, redis_client, sent, high_batch_cost=100, high_window_batches=10)
    node.run_once()
    node.run_once()
    assert documents_sent(sent) == {"throttled": 5, "capped": 7}
