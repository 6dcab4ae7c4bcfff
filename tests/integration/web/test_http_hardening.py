"""The HTTP layer against a hostile caller (docs: security review H3, H5, M3, M8, L3-L6): a
body is limited and its token checked before it is read, recreates are rate limited per token,
422s do not echo what was sent, tokens stay out of URLs, Redis down is a 503, and event streams
are capped, end at once when nothing more can come, and never show another tenant's events."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import redis
from celery import Celery
from fastapi.testclient import TestClient

from accounting import runtime
from accounting.config import get_settings
from accounting.errors import TransientError
from accounting.services import documents as documents_service
from accounting.services import jobs, tokens
from accounting.volatile.progress import ProgressStream
from accounting.volatile.ratelimit import RateLimiter
from tasks import client as task_client
from web import events, limits
from web.access_log import QueryRedacted, redacted
from web.app import create_app

from helpers import invoice

MiB = 1024 * 1024


def raw_post(
    path: str, chunks: int, headers: dict[str, str], declare: bool
) -> tuple[int, int, dict[str, str]]:
    """POST ``chunks`` MiB to the app through its ASGI interface: its status, how many body
    bytes the app took from the connection, and its headers."""
    consumed = 0
    sent: list[dict[str, Any]] = []
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-type", b"application/json"))
    if declare:
        raw.append((b"content-length", str(chunks * MiB).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": raw, "client": ("127.0.0.1", 1), "server": ("t", 80),
    }  # fmt: skip
    left = chunks

    async def receive() -> dict[str, Any]:
        nonlocal left, consumed
        if left == 0:
            await asyncio.sleep(3600)  # the client waits for the answer
        left -= 1
        consumed += MiB
        return {"type": "http.request", "body": b"[" * MiB, "more_body": left > 0}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(create_app()(scope, receive, send), 30))
    start = sent[0]
    found = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], consumed, found


def test_an_unauthenticated_body_is_refused_before_a_byte_of_it_is_read(
    engine: Any, redis_client: Any, acme: dict[str, str]
) -> None:
    for declare in (True, False):
        status, consumed, headers = raw_post("/v1/orgs/acme/recreate", 20, {}, declare)
        assert (status, consumed) in ((401, 0), (413, 0)), declare
    status, consumed, headers = raw_post(
        "/v1/orgs/acme/recreate", 20, {"Authorization": "Bearer acc_nope"}, False
    )
    assert (status, consumed, headers["www-authenticate"]) == (401, 0, "Bearer")


def test_an_oversize_body_is_413_before_it_is_read_or_as_soon_as_it_passes_the_limit(
    engine: Any, redis_client: Any, acme: dict[str, str]
) -> None:
    status, consumed, _ = raw_post("/v1/orgs/acme/recreate", 20, acme, declare=True)
    assert (status, consumed) == (413, 0)
    status, consumed, _ = raw_post("/v1/orgs/acme/recreate", 20, acme, declare=False)
    assert status == 413 and consumed <= get_settings().max_request_bytes + MiB
    # The documents intake takes a task message's size (4 MiB): 2 MiB is read, and is no JSON.
    status, consumed, _ = raw_post("/v1/orgs/acme/documents", 2, acme, declare=True)
    assert (status, consumed) == (422, 2 * MiB)


def test_malformed_or_deep_json_without_a_token_is_401_not_a_parse_error(
    api: TestClient, acme: dict[str, str]
) -> None:
    for body in ('{"document_ids": [', "[" * 200_000 + "]" * 200_000):
        refused = api.post(
            "/v1/orgs/acme/recreate", content=body, headers={"content-type": "application/json"}
        )
        assert refused.status_code == 401, refused.text


def test_recreates_are_limited_per_token_with_retry_after(
    api: TestClient, acme: dict[str, str], uow: Any
) -> None:
    body = {"document_ids": ["inv-1"]}
    answers = [api.post("/v1/orgs/acme/recreate", headers=acme, json=body) for _ in range(8)]
    codes = [answer.status_code for answer in answers]
    assert codes[:5] == [202] * 5 and 429 in codes  # 5 per second, a burst of 5
    refused = answers[codes.index(429)]
    assert refused.headers["retry-after"] == "1" and "RECREATE_REQUESTS" in refused.text
    other = {"Authorization": f"Bearer {tokens.create_token(uow(), 'acme')}"}
    assert api.post("/v1/orgs/acme/recreate", headers=other, json=body).status_code == 202


def dead_redis() -> redis.Redis:
    """A client as the runtime makes them, of a Redis that is not there."""
    return redis.Redis.from_url(
        "redis://127.0.0.1:1/0", socket_timeout=30, health_check_interval=30
    )


def test_without_redis_a_recreate_is_503_fast_and_the_queue_and_pause_still_answer(
    api: TestClient, acme: dict[str, str], uow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "_limiter", lambda: RateLimiter(dead_redis()))
    started = time.monotonic()
    refused = api.post("/v1/orgs/acme/recreate", headers=acme, json={"document_ids": ["i-1"]})
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert time.monotonic() - started < 3
    documents_service.upsert_documents(uow(), "acme", [invoice("i-1")], max_documents=9)
    monkeypatch.setattr(runtime, "redis_client", lambda *a, **k: dead_redis())
    view = api.get("/v1/orgs/acme/queue", headers=acme)
    assert view.status_code == 200 and all(j["eta_seconds"] is None for j in view.json()["jobs"])
    assert api.post("/v1/orgs/acme/pause", headers=acme).json()["paused"] is True
    assert api.post("/v1/orgs/acme/resume", headers=acme).json()["paused"] is False
    for unknown in (api.post("/v1/jobs/nobody/ticket", headers=acme),
                    api.get("/v1/jobs/nobody/events", headers=acme)):  # fmt: skip
        assert unknown.status_code == 503 and unknown.headers["retry-after"] == "1"


def test_a_recreate_sent_while_the_broker_is_down_is_transient_and_fast() -> None:
    dead = Celery(broker="redis://127.0.0.1:1/0", backend="redis://127.0.0.1:1/0")
    dead.conf.broker_connection_timeout = 1
    started = time.monotonic()
    with pytest.raises(TransientError):
        task_client.send_recreate(dead, "acme", ["i-1"], None)
    assert time.monotonic() - started < 4


def test_a_422_does_not_echo_what_was_sent(api: TestClient, acme: dict[str, str]) -> None:
    body = {"document_ids": ["y" * 400_000], "requested_by": "z" * 400_000}
    refused = api.post("/v1/orgs/acme/recreate", headers=acme, json=body)
    assert refused.status_code == 422 and len(refused.content) < 5_000
    fields = [error["loc"][1] for error in refused.json()["detail"]]
    assert fields == ["document_ids", "requested_by"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"document_ids": ["acme-2"], "requested_by": "Jane Doe\nsupport"}, "requested_by"),
        ({"document_ids": ["acme-1\u0000"]}, "document_ids"),
        ({"document_ids": ["acme-1\u200b"]}, "document_ids"),
    ],
)
def test_a_recreate_the_worker_would_refuse_is_422_naming_the_field(
    api: TestClient, acme: dict[str, str], body: dict[str, Any], field: str
) -> None:
    refused = api.post("/v1/orgs/acme/recreate", headers=acme, json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"][1] == field


def test_tokens_stay_out_of_urls_a_stream_opens_with_a_single_use_ticket(
    api: TestClient, acme: dict[str, str], uow: Any
) -> None:
    token = acme["Authorization"][7:]
    assert api.get(f"/v1/orgs/acme/queue?access_token={token}").status_code == 401
    documents_service.upsert_documents(uow(), "acme", [invoice("i-1")], max_documents=9, job_id="j")
    ProgressStream(runtime.redis_client(), 60).publish("j", [("done", {"posted": 1})])
    assert api.get(f"/v1/jobs/j/events?access_token={token}").status_code == 401
    ticket = api.post("/v1/jobs/j/ticket", headers=acme).json()["ticket"]
    opened = api.get(f"/v1/jobs/j/events?ticket={ticket}")
    assert opened.status_code == 200 and "event: done" in opened.text
    assert api.get(f"/v1/jobs/j/events?ticket={ticket}").status_code == 401  # used up
    other_job = api.post("/v1/jobs/other/ticket", headers=acme).json()["ticket"]
    assert api.get(f"/v1/jobs/j/events?ticket={other_job}").status_code == 401
    globex = {"Authorization": f"Bearer {tokens.create_token(uow(), 'globex')}"}
    assert api.post("/v1/jobs/j/ticket", headers=globex).status_code == 404
    assert api.get("/").headers["referrer-policy"] == "no-referrer"
    assert api.get("/v1/orgs/acme/queue", headers=acme).headers["referrer-policy"] == "no-referrer"


def test_the_access_log_keeps_no_query_value() -> None:
    assert redacted("/v1/jobs/j/events?ticket=abc&last_event_id=1-0") == (
        "/v1/jobs/j/events?ticket=***&last_event_id=***"
    )
    record = logging_record("/v1/orgs/acme/queue?access_token=acc_secret")
    QueryRedacted().filter(record)
    assert "acc_secret" not in record.getMessage()


def logging_record(path: str) -> Any:
    import logging

    args = ("127.0.0.1:5", "GET", path, "1.1", 200)
    return logging.LogRecord("uvicorn.access", 20, "", 0, '%s - "%s %s HTTP/%s" %d', args, None)


def test_a_stream_never_shows_another_organizations_event_under_its_job_id(
    api: TestClient, acme: dict[str, str], uow: Any
) -> None:
    documents_service.upsert_documents(uow(), "acme", [invoice("i-1")], max_documents=9, job_id="j")
    ProgressStream(runtime.redis_client(), 60).publish(
        "j",
        [
            ("accepted", {"job_id": "j", "org_id": "acme", "total": 1}),
            ("accepted", {"job_id": "j", "org_id": "globex", "total": 1}),
            ("done", {"posted": 1}),
        ],
    )
    text = api.get("/v1/jobs/j/events", headers=acme).text
    assert '"acme"' in text and "globex" not in text


def test_a_stream_that_has_ended_before_its_cursor_is_204_at_once(
    api: TestClient, acme: dict[str, str], uow: Any
) -> None:
    documents_service.upsert_documents(uow(), "acme", [invoice("i-1")], max_documents=9, job_id="j")
    stream = ProgressStream(runtime.redis_client(), 60)
    stream.publish("j", [("accepted", {"total": 1}), ("done", {"posted": 1})])
    done = stream.read("j")[-1].id
    answer = api.get("/v1/jobs/j/events", headers=acme | {"Last-Event-ID": done})
    assert answer.status_code == 204


def test_streams_per_token_are_capped(
    api: TestClient, acme: dict[str, str], uow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents_service.upsert_documents(uow(), "acme", [invoice("i-1")], max_documents=9, job_id="j")
    ProgressStream(runtime.redis_client(), 60).publish("j", [("done", {"posted": 1})])
    monkeypatch.setattr(get_settings(), "sse_streams_per_token", 2)
    fingerprint = tokens.digest(acme["Authorization"][7:])[:16]
    events.slots.take(fingerprint)
    events.slots.take(fingerprint)  # two streams open
    try:
        refused = api.get("/v1/jobs/j/events", headers=acme)
        assert refused.status_code == 429 and refused.headers["retry-after"]
    finally:
        events.slots.give_back(fingerprint)
    assert api.get("/v1/jobs/j/events", headers=acme).status_code == 200
    assert api.get("/v1/jobs/j/events", headers=acme).status_code == 200  # slots given back


def test_an_unknown_job_is_waited_for_with_a_few_queries_not_a_hundred(
    api: TestClient, acme: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = []
    owner = jobs.job_owner
    monkeypatch.setattr(events, "JOB_APPEARS_SECONDS", 3.0)
    monkeypatch.setattr(events.jobs, "job_owner", lambda *a: asked.append(1) or owner(*a))
    assert api.get("/v1/jobs/nobody/events", headers=acme).status_code == 404
    assert len(asked) <= 8  # polling every 0.1 s: 30


def test_a_stream_silent_for_longer_than_a_socket_timeout_stays_open_with_keep_alives(
    api: TestClient,
    acme: dict[str, str],
    uow: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """M1: redis-py's default socket timeout is 5 s; a stream with nothing to say for 6 s
    gets keep-alive comments, no Redis error, and then its events."""
    documents_service.upsert_documents(uow(), "acme", [invoice("i-1")], max_documents=9, job_id="j")
    stream = ProgressStream(runtime.redis_client(), 60)
    stream.publish("j", [("accepted", {"job_id": "j", "org_id": "acme", "total": 1})])
    monkeypatch.setattr(events, "KEEP_ALIVE_SECONDS", 1.0)
    silence = threading.Timer(6.0, stream.publish, ["j", [("done", {"posted": 1})]])
    silence.start()
    try:
        text = api.get("/v1/jobs/j/events", headers=acme).text
    finally:
        silence.cancel()
    assert text.count(": keep-alive") >= 4 and text.rstrip().endswith('data: {"posted": 1}')
    assert not [r for r in caplog.records if "SSE reader" in r.getMessage()]
