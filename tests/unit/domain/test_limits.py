"""The limits of a whole call, checked the way a producer checks a call before sending it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accounting.errors import PERMANENT_ERRORS, TooManyDocuments
from accounting_impact_client import limits
from accounting_impact_client.limits import (
    CallTooLarge,
    check_recreate_call,
    check_upsert_call,
    lines_in,
    message_bytes,
)


def invoice(doc_id: str, lines: int = 1) -> dict[str, Any]:
    line = {"quantity": "1", "unit_price": "10.00", "tax_rate": "0.19"}
    return {
        "id": doc_id,
        "type": "invoice",
        "date": "2026-03-01",
        "currency": "EUR",
        "lines": [line] * lines,
    }


def test_a_call_within_every_limit_passes_and_its_size_is_known() -> None:
    documents = [invoice("inv-1", 3), invoice("inv-2")]
    size = check_upsert_call("acme", documents, {"schema": 2})
    assert size == message_bytes(["acme", documents], {"schema": 2})
    assert 300 < size < 1000


def test_too_many_documents_are_refused_naming_count_and_limit() -> None:
    documents = [invoice(f"inv-{n}") for n in range(5001)]
    with pytest.raises(TooManyDocuments, match=r"5,001 documents in one call; at most 5,000"):
        check_upsert_call("acme", documents)
    check_upsert_call("acme", documents[:10], max_documents=10)
    with pytest.raises(TooManyDocuments, match="at most 9 "):
        check_upsert_call("acme", documents[:10], max_documents=9)


def test_too_many_lines_in_one_call_are_refused_naming_count_and_limit() -> None:
    documents = [invoice(f"inv-{n}", 1000) for n in range(50)]
    assert lines_in(documents) == 50_000
    check_upsert_call("acme", documents)
    with pytest.raises(CallTooLarge, match=r"50,001 invoice lines in one call; at most 50,000"):
        check_upsert_call("acme", [*documents, invoice("one-more")])


def test_lines_that_are_not_a_list_count_for_nothing() -> None:
    assert lines_in([{"lines": "x" * 100}, "not a document", {"lines": [1, 2]}]) == 2


def test_a_message_beyond_the_byte_limit_is_refused_naming_its_size_and_the_limit() -> None:
    big = [invoice("inv-1") | {"id": "x" * 100} for _ in range(100)]
    description = {"description": "é" * 450}  # 6 bytes each once Celery escapes it to ASCII
    line = invoice("x")["lines"][0] | description
    documents = [invoice(f"inv-{n}") | {"lines": [line] * 4} for n in range(400)]
    size = message_bytes(["acme", documents], {})
    assert size > limits.MAX_MESSAGE_BYTES  # 400 x 4 x 2,700 bytes of description alone
    with pytest.raises(CallTooLarge) as refused:
        check_upsert_call("acme", documents)
    assert f"{size:,} bytes; at most {limits.MAX_MESSAGE_BYTES:,}" in str(refused.value)
    assert "accounting.upsert_documents" in str(refused.value)
    check_upsert_call("acme", big)


def test_the_size_is_the_body_celery_sends() -> None:
    body = json.dumps(
        [
            ["acme", []],
            {"schema": 2},
            {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
        ]
    )
    assert message_bytes(["acme", []], {"schema": 2}) == len(body)


def test_a_recreate_of_more_ids_than_the_http_api_takes_is_refused_naming_the_limit() -> None:
    check_recreate_call("acme", [f"inv-{n}" for n in range(5000)], {"requested_by": "jane"})
    with pytest.raises(CallTooLarge, match=r"document_ids: 5,001 ids in one recreate; at most"):
        check_recreate_call("acme", [f"inv-{n}" for n in range(5001)])


def test_every_refusal_is_permanent_and_short() -> None:
    for call in (
        lambda: check_upsert_call("acme", [invoice("x")] * 6000),
        lambda: check_upsert_call("acme", [invoice("x", 60_000)]),
        lambda: check_recreate_call("acme", ["x"] * 10_000),
    ):
        with pytest.raises(PERMANENT_ERRORS) as refused:
            call()
        assert len(str(refused.value)) < 200
