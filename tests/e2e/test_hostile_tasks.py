"""Hostile payloads through real workers: refused at once, never retried, nothing changed."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Engine

from accounting.services import documents as documents_service
from accounting.services import posting
from accounting.services.intake import dead_messages

from helpers import invoice, snapshot

pytestmark = pytest.mark.timeout(120)


def test_hostile_payloads_fail_or_are_rejected_at_once_and_are_never_retried(
    workers: Any, engine: Engine, uow: Any, org: str
) -> None:
    from tasks.documents import recreate, upsert_documents

    documents_service.upsert_documents(uow(), org, [invoice("inv-1")], max_documents=10)
    posting.post_documents(uow(), org, {"inv-1": 1})
    workers.start("accounting.high", concurrency=1)
    workers.start("accounting.normal", concurrency=1)
    workers.wait_ready()
    before = snapshot(engine)
    started = time.monotonic()

    hostile = {**invoice("'; DROP TABLE documents; --"), "currency": "x" * 1_000_000}
    nul = {**invoice("a\x00b")}
    upserted = upsert_documents.delay(org, [hostile, nul, invoice("inv-1"), invoice("inv-1")])
    rejected = upserted.get(timeout=30)["rejected"]
    unknown_org = upsert_documents.delay("acme\x00", [invoice("inv-2")])
    bad_ids = recreate.delay(org, ["inv-1", {"id": 1}], requested_by="\u202eadmin")
    foreign = recreate.delay(org, ["ghost", "%", "_"])
    oversize = upsert_documents.delay(org, [{**invoice("big"), "currency": "x" * 10_000_000}])

    assert sorted((r["document_id"][:20], r["field"]) for r in rejected) == [
        ("'; DROP TABLE docume", "currency"),
        ("a\x00b", "id"),
        ("inv-1", "id"),
        ("inv-1", "id"),
    ]
    assert all(len(str(r)) < 1000 for r in rejected)
    with pytest.raises(Exception, match="over the 4,194,304-byte limit") as too_large:
        oversize.get(timeout=30)  # refused before it is decoded: a 10 MB message
    assert type(too_large.value).__name__ == "MessageTooLarge"
    (kept,) = dead_messages(uow(), org)
    assert (kept.task_id, kept.args) == (oversize.id, None)
    assert kept.reason.startswith("a message of 10,000,")
    assert foreign.get(timeout=30)["requested"] == 0
    for failed, field in ((unknown_org, "org_id"), (bad_ids, "document_ids")):
        with pytest.raises(Exception, match=field) as raised:
            failed.get(timeout=30)
        assert type(raised.value).__name__ in ("PermanentError", "UnsupportedPayload")
        assert failed.state == "FAILURE"
        assert (failed.retries or 0) == 0  # from the result backend (result_extended)
    assert time.monotonic() - started < 30
    after = snapshot(engine)
    # Each call that got as far as its organization is a job (with nothing to post): a record
    # of the request, not a change to anyone's books.
    after.pop("jobs"), before.pop("jobs")
    assert after == before
