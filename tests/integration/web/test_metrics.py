"""The Prometheus metrics on real Postgres and Redis: they parse with prometheus_client's own
parser, and move when work is done."""

from __future__ import annotations

from typing import Any

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from accounting import runtime
from accounting.config import get_settings
from accounting.domain.lanes import Lane
from accounting.services import posting
from accounting.services.documents import upsert_documents
from accounting.services.queue import suggested_workers
from tasks import telemetry
from web.metrics import QueueCollector

from helpers import invoice

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(uow: Any, client: Any) -> Samples:
    registry = CollectorRegistry()
    registry.register(QueueCollector(uow, client, get_settings()))
    families = text_string_to_metric_families(generate_latest(registry).decode())
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families
        for sample in family.samples
    }


def lane(name: str, value: str = "normal") -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, (("lane", value),))


def test_the_metrics_move_as_documents_are_stored_and_posted(
    uow: Any, org: str, redis_client: redis.Redis
) -> None:
    client = lambda: redis_client  # noqa: E731
    before = scrape(uow, client)
    assert before[lane("accounting_documents_posted_total")] == 0
    upsert_documents(uow(), org, [invoice(f"inv-{n}") for n in range(5)], max_documents=10)
    waiting = scrape(uow, client)
    assert waiting[lane("accounting_pending_documents")] == 5
    assert waiting[lane("accounting_oldest_pending_age_seconds")] >= 0
    assert waiting[lane("accounting_lane_suggested_workers")] == 1

    versions = {f"inv-{n}": 1 for n in range(5)}
    result = posting.post_documents(uow(), org, versions, matrices=runtime.matrix_cache())
    telemetry.record_posting(Lane.NORMAL, result)
    after = scrape(uow, client)
    assert after[lane("accounting_documents_posted_total")] == 5
    assert after[lane("accounting_pending_documents")] == 0
    assert after[lane("accounting_posting_latency_seconds_count")] == 5
    assert (
        after[("accounting_posting_latency_seconds_bucket", (("lane", "normal"), ("le", "+Inf")))]
        == 5
    )
    assert after[lane("accounting_posting_latency_seconds_sum")] > 0
    assert after[lane("accounting_lane_throughput_documents_per_second")] >= 0
    assert (
        after[("accounting_matrix_cache_misses_total", ())]
        + after[("accounting_matrix_cache_hits_total", ())]
        >= 1
    )
    window_limit = (("lane", "normal"), ("state", "limit"))
    assert after[("accounting_dispatcher_window_cost", window_limit)] > 0


def test_a_retry_is_counted_per_task(uow: Any, org: str, redis_client: redis.Redis) -> None:
    telemetry.record_retry("accounting.post_batch")
    samples = scrape(uow, lambda: redis_client)
    assert samples[("accounting_task_retries_total", (("task", "accounting.post_batch"),))] == 1


def test_with_redis_down_a_scrape_still_reports_what_postgres_knows(uow: Any, org: str) -> None:
    down = redis.Redis(port=1, socket_connect_timeout=0.2)
    samples = scrape(uow, lambda: down)
    assert lane("accounting_pending_documents") in samples
    assert lane("accounting_documents_posted_total") not in samples


def test_the_suggested_worker_count_drains_the_backlog_in_the_lanes_target_time() -> None:
    per_worker = get_settings().scaling_documents_per_worker
    assert suggested_workers(Lane.NORMAL, 0, per_worker) == 1
    assert suggested_workers(Lane.NORMAL, int(per_worker * 300 * 3), per_worker) == 3
    assert suggested_workers(Lane.HIGH, int(per_worker * 5) + 1, per_worker) == 2
