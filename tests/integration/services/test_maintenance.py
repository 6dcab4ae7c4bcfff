"""The scheduled jobs' work on real Postgres and Redis, and `accounting audit`."""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from accounting.config import get_settings
from accounting.services import audit, maintenance, posting
from accounting.services.documents import upsert_documents
from accounting.services.queue import abandon_pending, status
from accounting.volatile.progress import stream_key
from tasks.cli import cli

from helpers import count, invoice

DAY_MS = 24 * 3600 * 1000


def clean_up(uow: Any, client: redis.Redis) -> maintenance.CleanedUp:
    return maintenance.clean_up(
        uow(),
        client,
        get_settings(),
        result_key_pattern="celery-task-meta-*",
        result_ttl_seconds=3600,
    )


def test_cleanup_deletes_progress_streams_idle_past_their_retention_and_keeps_the_rest(
    engine: Engine, uow: Any, redis_client: redis.Redis
) -> None:
    retention_ms = get_settings().progress_retention_seconds * 1000
    now_ms = int(time.time() * 1000)
    redis_client.xadd(
        stream_key("old-job"), {"event": "done"}, id=f"{now_ms - retention_ms - DAY_MS}-0"
    )
    redis_client.xadd(stream_key("live-job"), {"event": "queued"})
    redis_client.set("accounting:progress:not-a-stream", "x")  # only streams are progress
    assert clean_up(uow, redis_client).progress_streams == 1
    assert not redis_client.exists(stream_key("old-job"))
    assert redis_client.exists(stream_key("live-job"), "accounting:progress:not-a-stream") == 2


def test_cleanup_gives_result_keys_without_an_expiry_one_and_leaves_the_others(
    engine: Engine, uow: Any, redis_client: redis.Redis
) -> None:
    redis_client.set("celery-task-meta-forever", "{}")
    redis_client.set("celery-task-meta-expiring", "{}", ex=60)
    redis_client.set("someone-elses-key", "x")
    assert clean_up(uow, redis_client).result_keys_given_a_ttl == 1
    assert 0 < redis_client.ttl("celery-task-meta-forever") <= 3600
    assert redis_client.ttl("celery-task-meta-expiring") <= 60
    assert redis_client.ttl("someone-elses-key") == -1


def test_cleanup_deletes_audit_runs_past_retention_but_the_latest_and_never_documents(
    engine: Engine, uow: Any, org: str, redis_client: redis.Redis
) -> None:
    upsert_documents(uow(), org, [invoice("inv-1")], max_documents=10)
    abandon_pending(uow(), org, "gave up")  # a dead document: kept whatever its age
    for _ in range(3):
        audit.run_audit(uow())
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_runs SET started_at = now() - interval '400 days'"))
    assert clean_up(uow, redis_client).audit_runs == 2
    assert count(engine, "SELECT count(*) FROM audit_runs") == 1
    assert status(uow(), org)["dead"] == 1


def test_accounting_audit_exits_0_on_clean_books_and_1_naming_each_finding(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert_documents(uow(), org, [invoice("inv-1")], max_documents=10)
    posting.post_documents(uow(), org, {"inv-1": 1})
    clean = CliRunner().invoke(cli, ["audit", org, "--json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output)["findings"] == 0
    with engine.begin() as connection:
        connection.execute(text("UPDATE documents SET lease_until = now() - interval '1 day'"))
        connection.execute(text("UPDATE documents SET ready_version = 2 WHERE id = 'inv-1'"))
    dirty = CliRunner().invoke(cli, ["audit", org])
    assert dirty.exit_code == 1, dirty.output
    assert "lease_expired_unreclaimed" in dirty.output and "inv-1" in dirty.output


def test_cleanup_deletes_jobs_older_than_the_progress_retention(
    engine: Engine, uow: Any, org: str, redis_client: redis.Redis
) -> None:
    upsert_documents(uow(), org, [invoice("inv-1")], max_documents=10, job_id="old")
    upsert_documents(uow(), org, [invoice("inv-2")], max_documents=10, job_id="new")
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE jobs SET created_at = now() - interval '30 days' WHERE id = 'old'")
        )
    assert clean_up(uow, redis_client).jobs == 1
    assert count(engine, "SELECT count(*) FROM jobs") == 1
    assert count(engine, "SELECT count(*) FROM job_documents WHERE job_id = 'old'") == 0
    assert count(engine, "SELECT count(*) FROM documents") == 2
