"""The client an application uses, against real workers on real Redis and Postgres: a sync
comes back stored, a message Redis lost is sent again, a refused call says why, and the
host's own Celery app stays its own."""

from __future__ import annotations

import threading
from typing import Any

import celery
import pytest
import redis
from sqlalchemy import Engine

from accounting import demo_data
from accounting_impact_client import AccountingClient, CallFailed, Invoice
from accounting_impact_client import client as client_module
from accounting_impact_client.routing import NORMAL_QUEUE

from helpers import count, invoice, wait_for

pytestmark = pytest.mark.timeout(180)


def _stored(engine: Engine, org: str) -> int:
    return count(engine, "SELECT count(*) FROM documents WHERE org_id = :org", org=org)


def test_a_sync_comes_back_stored_with_its_rejections_and_ends_posted(
    workers: Any, engine: Engine, org: str, redis_url: str
) -> None:
    workers.start(NORMAL_QUEUE, concurrency=1)
    workers.start("accounting.high", concurrency=1)
    workers.wait_ready()
    client = AccountingClient(redis_url)
    good = Invoice.model_validate(invoice("inv-1"))
    bad = {**invoice("inv-2"), "currency": "EURO"}
    result = client.sync_documents(org, [good, bad, invoice("inv-3")])
    assert result.changed == ("inv-1", "inv-3")
    assert [(r.document_id, r.field) for r in result.rejected] == [("inv-2", "currency")]
    assert _stored(engine, org) == 2  # stored before the client said so
    wait_for(
        lambda: (
            count(
                engine,
                "SELECT count(*) FROM journal_entries WHERE org_id = :org AND status = 'active'",
                org=org,
            )
            == 2
        ),
        60,
        "both documents posted",
        workers,
    )
    assert client.sync_documents(org, [good], job_id=result.job_id) == result  # the same call
    again = client.sync_documents(org, [good])
    assert again.unchanged == ("inv-1",) and again.changed == ()


def test_a_sync_whose_message_redis_lost_is_sent_again_and_stored(
    workers: Any,
    engine: Engine,
    org: str,
    redis_url: str,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "RESEND_AFTER_SECONDS", 1.0)
    client = AccountingClient(redis_url)
    outcome: dict[str, Any] = {}

    def sync() -> None:
        outcome["result"] = client.sync_documents(org, [invoice("inv-9")], timeout=120)

    sender = threading.Thread(target=sync)
    sender.start()  # no worker yet: the message waits in Redis
    wait_for(lambda: redis_client.llen(NORMAL_QUEUE) == 1, 10, "the message in Redis")
    redis_client.delete(NORMAL_QUEUE)  # Redis loses it (a flush, a restart without AOF)
    workers.start(NORMAL_QUEUE, concurrency=1)
    workers.wait_ready()
    sender.join(timeout=90)
    assert not sender.is_alive()
    result = outcome["result"]
    assert result.changed == ("inv-9",)
    assert result.job.sends >= 2
    assert _stored(engine, org) == 1


def test_a_call_the_workers_refuse_whole_raises_naming_why(
    workers: Any, engine: Engine, redis_url: str
) -> None:
    workers.start(NORMAL_QUEUE, concurrency=1)
    workers.wait_ready()
    client = AccountingClient(redis_url)
    with pytest.raises(CallFailed) as refused:
        client.sync_documents("no-such-org", [invoice("inv-1")], timeout=60)
    assert refused.value.error == "UnknownOrganization"
    assert "no-such-org" in refused.value.message


def test_a_small_recreate_comes_back_posted(
    workers: Any, uow: Any, org: str, redis_url: str
) -> None:
    workers.start(NORMAL_QUEUE, concurrency=1)
    workers.start("accounting.high", concurrency=1)
    workers.wait_ready()
    client = AccountingClient(redis_url)
    documents = list(demo_data.documents(2, prefix="r"))
    client.sync_documents(org, documents)
    ids = [str(document["id"]) for document in documents]
    result = client.recreate(org, ids, requested_by="test")
    assert sorted(result.posted) == sorted(ids)
    assert result.failed == {} and result.queued == 0


def test_through_the_hosts_celery_app_its_current_app_stays_its_own(
    workers: Any, engine: Engine, org: str, redis_url: str
) -> None:
    host = celery.Celery("shop", broker=redis_url)
    host.set_current()

    @host.task(name="shop.send_welcome_email")
    def send_welcome_email() -> None: ...

    workers.start(NORMAL_QUEUE, concurrency=1)
    workers.wait_ready()
    client = AccountingClient(celery_app=host, result_url=redis_url)
    result = client.sync_documents(org, [invoice("inv-h")])
    assert result.changed == ("inv-h",)
    assert celery.current_app.main == "shop"
    assert "shop.send_welcome_email" in host.tasks  # its own tasks (test_integrate runs one)
