"""Storing documents on real Postgres: coalescing by content, and bad input rejected cleanly."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, text

from accounting.domain.facts import posting_facts
from accounting.errors import TooManyDocuments, UnknownOrganization
from accounting.services.documents import UpsertResult, new_document, upsert_documents
from accounting.store.uow import UnitOfWork
from accounting_impact_client.documents import validate_documents
from accounting_impact_client.limits import CallTooLarge

from helpers import await_lock_wait, count, invoice, versions


def upsert(uow: Any, org: str, docs: list[Any]) -> UpsertResult:
    return upsert_documents(uow(), org, docs, max_documents=100)


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
    (
        {**invoice("float-money"), "lines": [{"quantity": "1", "unit_price": 9.99}]},
        "lines.0.unit_price",
    ),
    ({**invoice("bad-currency"), "currency": "XYZ"}, "currency"),
]


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
    with pytest.raises(TooManyDocuments, match=r"^101 documents in one call; at most 100 "):
        upsert(uow, org, [invoice(f"inv-{n}") for n in range(101)])
    assert count(engine, "SELECT count(*) FROM documents") == 0


def revised(doc_id: str, revision: int | None, unit_price: str) -> dict[str, Any]:
    return invoice(doc_id, unit_price) | ({"revision": revision} if revision is not None else {})


def stored(engine: Engine, org: str, doc_id: str) -> tuple[int, str]:
    """(revision, unit price) as stored (in canonical form: "100.00" is stored "100")."""
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT revision, content FROM documents WHERE org_id = :o AND id = :i"),
            {"o": org, "i": doc_id},
        ).one()
    return row.revision, row.content["lines"][0]["unit_price"]


def test_a_document_older_than_the_stored_revision_is_stale_and_changes_nothing(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, [revised("inv-1", 5, "100.00")])
    late = upsert(uow, org, [revised("inv-1", 4, "90.00")])  # a message delivered late
    assert late.stale == ["inv-1"] and late.changed == late.unchanged == []
    assert versions(engine, org, "inv-1") == (1, 0, 0)
    assert stored(engine, org, "inv-1") == (5, "100")


def test_a_newer_or_equal_revision_with_new_content_makes_a_new_version(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, [revised("inv-1", 5, "100.00")])
    assert upsert(uow, org, [revised("inv-1", 5, "101.00")]).changed == ["inv-1"]
    assert upsert(uow, org, [revised("inv-1", 9, "102.00")]).changed == ["inv-1"]
    assert versions(engine, org, "inv-1") == (3, 0, 0)
    assert stored(engine, org, "inv-1") == (9, "102")


def test_a_higher_revision_of_the_same_content_is_remembered_without_a_new_version(
    engine: Engine, uow: Any, org: str
) -> None:
    """A -> B -> A again: the late B (revision 6) must not win over the A of revision 7."""
    upsert(uow, org, [revised("inv-1", 5, "100.00")])
    assert upsert(uow, org, [revised("inv-1", 7, "100.00")]).unchanged == ["inv-1"]
    assert upsert(uow, org, [revised("inv-1", 6, "120.00")]).stale == ["inv-1"]
    assert versions(engine, org, "inv-1") == (1, 0, 0)
    assert stored(engine, org, "inv-1") == (7, "100")


def test_without_a_revision_the_last_upsert_wins_and_keeps_the_stored_revision(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, [revised("inv-1", 5, "100.00")])
    assert upsert(uow, org, [revised("inv-1", None, "80.00")]).changed == ["inv-1"]
    assert stored(engine, org, "inv-1") == (5, "80")


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True, 2**63])
def test_a_revision_that_is_not_a_whole_number_in_range_is_rejected_naming_it(
    engine: Engine, uow: Any, org: str, bad: object
) -> None:
    result = upsert(uow, org, [invoice("inv-1") | {"revision": bad}])
    assert [(e.document_id, e.field) for e in result.rejected] == [("inv-1", "revision")]
    assert count(engine, "SELECT count(*) FROM documents") == 0


def test_of_two_racing_upserts_the_older_revision_is_stale_whichever_arrives_second(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, [revised("inv-1", 5, "100.00")])
    outcomes: dict[str, UpsertResult] = {}
    (newer,), _ = validate_documents([revised("inv-1", 7, "107.00")])
    with UnitOfWork(engine) as first:
        # The newer revision holds the row lock, uncommitted...
        first.documents.upsert_documents(org, [new_document(newer, posting_facts(newer))])
        second = threading.Thread(
            target=lambda: outcomes.update(late=upsert(uow, org, [revised("inv-1", 6, "106.00")]))
        )
        second.start()
        await_lock_wait(engine)  # ...so the older one waits for it, then sees it.
        first.commit()
    second.join(timeout=30)
    assert not second.is_alive()
    assert outcomes["late"].stale == ["inv-1"]
    assert stored(engine, org, "inv-1") == (7, "107")


def test_a_call_of_more_lines_than_a_call_may_hold_is_refused_whole(
    engine: Engine, uow: Any, org: str
) -> None:
    line = invoice("x")["lines"][0]
    documents = [invoice(f"inv-{n}") | {"lines": [line] * 1000} for n in range(50)]
    with pytest.raises(CallTooLarge, match="50,001 invoice lines in one call; at most 50,000"):
        upsert(uow, org, [*documents, invoice("one-more")])
    assert count(engine, "SELECT count(*) FROM documents") == 0


def test_a_subscription_is_stored_with_the_cost_of_its_schedule(
    engine: Engine, uow: Any, org: str
) -> None:
    lines = [invoice("x")["lines"][0] | {"group": f"g{n}"} for n in range(3)]
    subscription = invoice("sub-1") | {
        "type": "subscription_invoice",
        "lines": lines,
        "service_start": "2026-03-01",
        "term_months": 24,
    }
    assert upsert(uow, org, [subscription]).changed == ["sub-1"]
    assert count(engine, "SELECT cost FROM documents WHERE id = 'sub-1'") == 3 + 3 * 24
