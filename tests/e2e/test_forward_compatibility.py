"""A newer producer's call through real workers: an argument the worker does not take is
refused at once, by name, never retried; an unknown document field rejects that document."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from helpers import count, invoice

pytestmark = pytest.mark.timeout(120)


def test_unknown_arguments_are_refused_by_name_and_unknown_fields_reject_one_document(
    workers: Any, celery_app: Any, engine: Engine, org: str
) -> None:
    workers.start("accounting.normal", concurrency=1)
    workers.start("accounting.high", concurrency=1)
    workers.wait_ready()

    def send(name: str, args: list[Any], kwargs: dict[str, Any], queue: str) -> Any:
        return celery_app.send_task(name, args=args, kwargs=kwargs, queue=queue)

    newer = send(
        "accounting.upsert_documents",
        [org, [invoice("inv-1")]],
        {"schema": 2, "source": "shopify"},
        "accounting.normal",
    )
    too_many = send("accounting.recreate", [org, ["inv-1"], None, 2, "x"], {}, "accounting.high")
    field = send(
        "accounting.upsert_documents",
        [org, [invoice("inv-2") | {"customer_id": "c-9"}, invoice("inv-3")]],
        {"schema": 2},
        "accounting.normal",
    )

    for refused, words in (
        (newer, ("accounting.upsert_documents (schema 2)", "'source'")),
        (too_many, ("accounting.recreate (schema 2)", "1 positional arguments too many")),
    ):
        with pytest.raises(Exception) as raised:
            refused.get(timeout=30)
        assert type(raised.value).__name__ == "UnsupportedPayload"
        assert all(word in str(raised.value) for word in words), raised.value
        assert (refused.retries or 0) == 0
    result = field.get(timeout=30)
    assert result["changed"] == ["inv-3"]
    assert [(r["document_id"], r["field"]) for r in result["rejected"]] == [
        ("inv-2", "customer_id")
    ]
    assert count(engine, "SELECT count(*) FROM documents WHERE id = 'inv-1'") == 0
