"""Storing documents on real Postgres: coalescing by content, and bad input rejected cleanly."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from accounting import services
from accounting.errors import TooManyDocuments, UnknownOrganization

from helpers import count, invoice, versions


def upsert(uow: Any, org: str, docs: list[Any]) -> services.UpsertResult:
    return services.upsert_documents(uow(), org, docs, max_documents=100)


def test_an_unchanged_reupsert_bumps_nothing(engine: Engine, uow: Any, org: str) -> None:
    first = upsert(uow, org, [invoice("inv-1")])
    again = upsert(uow, org, [invoice("inv-1")])
    assert first.changed == ["inv-1"]
    assert again.changed == [] and again.unchanged == ["inv-1"]
    assert versions(engine, org, "inv-1") == (1, 0, 0)


def test_the_same_amount_written_differently_is_unchanged(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, [invoice("inv-1", "100.00")])
    assert upsert(uow, org, [invoice("inv-1", "100")]).unchanged == ["inv-1"]


def test_changed_content_bumps_the_ready_version(engine: Engine, uow: Any, org: str) -> None:
    upsert(uow, org, [invoice("inv-1", "100.00")])
    assert upsert(uow, org, [invoice("inv-1", "101.00")]).changed == ["inv-1"]
    assert versions(engine, org, "inv-1") == (2, 0, 0)


BAD = [
    ({k: v for k, v in invoice("missing-date").items() if k != "date"}, "date"),
    (invoice("negative-qty", quantity="-1"), "lines.0.quantity"),
    ({**invoice("bad-type"), "type": "receipt"}, "type"),
    ({**invoice("float-money"), "lines": [{"quantity": "1", "unit_price": 9.99}]},
     "lines.0.unit_price"),
    ({**invoice("bad-currency"), "currency": "XYZ"}, "currency"),
]  # fmt: skip


@pytest.mark.parametrize(("document", "field"), BAD, ids=[d["id"] for d, _ in BAD])
def test_a_bad_document_is_rejected_naming_it_and_its_field_while_good_ones_are_stored(
    engine: Engine, uow: Any, org: str, document: dict[str, Any], field: str
) -> None:
    result = upsert(uow, org, [invoice("good-1"), document, invoice("good-2")])
    assert result.changed == ["good-1", "good-2"]
    assert [(e.document_id, e.field) for e in result.rejected] == [(document["id"], field)]
    assert result.rejected[0].message
    assert count(engine, "SELECT count(*) FROM documents") == 2


def test_an_unknown_organization_is_refused_and_nothing_is_written(
    engine: Engine, uow: Any
) -> None:
    with pytest.raises(UnknownOrganization, match="ghost"):
        upsert(uow, "ghost", [invoice("inv-1")])
    assert count(engine, "SELECT count(*) FROM documents") == 0


def test_too_many_documents_in_one_call_are_refused_whole(
    engine: Engine, uow: Any, org: str
) -> None:
    with pytest.raises(TooManyDocuments):
        upsert(uow, org, [invoice(f"inv-{n}") for n in range(101)])
    assert count(engine, "SELECT count(*) FROM documents") == 0
