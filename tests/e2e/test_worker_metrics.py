"""Metrics counted by many prefork processes add up in one scrape."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from accounting import demo_data, runtime
from accounting.config import get_settings
from accounting.domain.lanes import Lane
from accounting.services.documents import upsert_documents
from accounting.services.queue import status
from web.metrics import QueueCollector

from helpers import wait_for

pytestmark = pytest.mark.timeout(180)


def posted_by_lane(uow: Any) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(QueueCollector(uow, runtime.redis_client, get_settings()))
    return {
        sample.labels["lane"]: sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if sample.name == "accounting_documents_posted_total"
    }


def test_documents_posted_by_two_workers_of_two_processes_each_are_all_counted(
    workers: Any, uow: Any, org: str
) -> None:
    from tasks.documents import recreate

    for _ in range(2):
        workers.start("accounting.normal", concurrency=2, env={"ACCOUNTING_BATCH_SIZE": "50"})
    workers.start("accounting.high", concurrency=1)
    workers.wait_ready()
    upsert_documents(uow(), org, list(demo_data.documents(800, prefix="m")), max_documents=1000)
    wait_for(lambda: status(uow(), org)["posted"] == 800, 120, "800 posted", workers)
    recreate.delay(org, [demo_data.document_id("m", 0)]).get(timeout=30)  # the fast path
    wait_for(lambda: posted_by_lane(uow).get("high") == 1, 30, "the recreate counted", workers)
    assert posted_by_lane(uow) == {"high": 1, "normal": 800}


def scraped(uow: Any, name: str) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(QueueCollector(uow, runtime.redis_client, get_settings()))
    return {
        sample.labels.get("lane", "") + "|" + sample.labels.get("state", ""): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if sample.name == name
    }


def test_workers_announce_their_slots_and_the_window_follows_them(
    workers: Any, uow: Any, org: str
) -> None:
    """Two normal workers of three processes: 6 slots, a window of 12 batches (2 per slot);
    gone once they stop."""
    for _ in range(2):
        workers.start("accounting.normal", concurrency=3)
    workers.wait_ready()
    slots = runtime.worker_slots()
    wait_for(lambda: slots.live(Lane.NORMAL) == 6, 30, "6 slots announced", workers)
    assert scraped(uow, "accounting_lane_worker_slots")["normal|"] == 6
    limit = scraped(uow, "accounting_dispatcher_window_cost")["normal|limit"]
    assert limit == 12 * get_settings().batch_cost
    workers.stop()
    assert slots.live(Lane.NORMAL) == 0  # withdrawn at the warm shutdown
