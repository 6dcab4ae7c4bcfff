"""Posting invariants on real Postgres: balance, idempotence, staleness, races, recreates."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from accounting import demo_data
from accounting.errors import TransientError, UnknownOrganization
from accounting.services import documents as documents_service
from accounting.services import matrices, posting
from accounting.services import queue as queue_service
from accounting.services import recreate as recreate_service
from accounting.store.uow import UnitOfWork

from helpers import active_entries, await_lock_wait, count, invoice, unbalanced_entries, versions

MAX = 1000


def upsert(uow: Any, org: str, *docs: dict[str, Any]) -> documents_service.UpsertResult:
    return documents_service.upsert_documents(uow(), org, list(docs), max_documents=MAX)


def test_the_trigger_rejects_a_hand_made_unbalanced_entry(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    with pytest.raises(IntegrityError, match="does not balance"), engine.begin() as connection:
        entry_id = connection.execute(
            text(
                "INSERT INTO journal_entries (org_id, document_id, document_version,"
                " document_type, matrix_version, entry_date, currency)"
                " VALUES (:o, 'inv-1', 1, 'invoice', 1, '2026-03-01', 'EUR') RETURNING id"
            ),
            {"o": org},
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO journal_lines (entry_id, org_id, account_code, currency, amount,"
                " functional_amount, rate, rate_source, rate_date) VALUES"
                " (:e, :o, '1100', 'EUR', 100, 100, 1, 'functional', '2026-03-01'),"
                " (:e, :o, '4000', 'EUR', -99, -99, 1, 'functional', '2026-03-01')"
            ),
            {"e": entry_id, "o": org},
        )
    assert count(engine, "SELECT count(*) FROM journal_entries") == 0


def test_posted_entries_balance_per_currency_and_in_functional_currency(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1", "19.99", "3"), invoice("inv-2", "0.01"))
    result = posting.post_documents(uow(), org, {"inv-1": 1, "inv-2": 1})
    assert sorted(result.posted) == ["inv-1", "inv-2"]
    assert count(engine, "SELECT count(*) FROM journal_lines") > 0
    assert unbalanced_entries(engine) == 0


def test_posting_the_same_version_twice_leaves_one_active_set(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    first = posting.post_documents(uow(), org, {"inv-1": 1})
    second = posting.post_documents(uow(), org, {"inv-1": 1})
    assert first.posted == ["inv-1"]
    assert second.posted == [] and second.stale == ["inv-1"]
    assert active_entries(engine, org, "inv-1") == [1]
    assert count(engine, "SELECT count(*) FROM journal_entries") == 1


def test_a_stale_version_writes_nothing(engine: Engine, uow: Any, org: str) -> None:
    upsert(uow, org, invoice("inv-1", "100.00"))
    upsert(uow, org, invoice("inv-1", "120.00"))  # version 2 arrives before 1 is posted
    stale = posting.post_documents(uow(), org, {"inv-1": 1})
    assert stale.posted == []
    assert count(engine, "SELECT count(*) FROM journal_entries") == 0
    assert versions(engine, org, "inv-1") == (2, 0, 0)
    current = posting.post_documents(uow(), org, {"inv-1": 2})
    assert current.posted == ["inv-1"]
    assert active_entries(engine, org, "inv-1") == [2]


def test_of_two_sessions_racing_to_post_one_document_exactly_one_commits(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    outcomes: dict[str, posting.PostResult] = {}
    with UnitOfWork(engine) as first:
        # The first session wins the compare-and-set and holds the row lock...
        assert list(first.versions.mark_posted(org, {"inv-1": 1})) == ["inv-1"]
        second = threading.Thread(
            target=lambda: outcomes.update(second=posting.post_documents(uow(), org, {"inv-1": 1}))
        )
        second.start()
        await_lock_wait(engine)  # ...so the second session blocks on it.
        first.journal.replace_active_entries(org, ["inv-1"], closed_periods=())
        first.commit()
    second.join(timeout=30)
    assert not second.is_alive()
    assert outcomes["second"].posted == []
    assert versions(engine, org, "inv-1") == (1, 1, 0)


def test_of_many_concurrent_posts_of_one_version_exactly_one_writes_entries(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, *(invoice(f"inv-{n}") for n in range(20)))
    wanted = {f"inv-{n}": 1 for n in range(20)}
    results: list[posting.PostResult] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        barrier.wait()
        results.append(posting.post_documents(uow(), org, wanted))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    posted = [doc for result in results for doc in result.posted]
    assert sorted(posted) == sorted(wanted)  # each document won by exactly one session
    assert count(engine, "SELECT count(*) FROM journal_entries") == 20


def test_a_recreate_leaves_exactly_one_active_set_at_the_new_version(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    posting.post_documents(uow(), org, {"inv-1": 1})
    recreated = recreate_service.request_recreate(uow(), org, ["inv-1"], hold_seconds=None)
    assert recreated.versions == {"inv-1": 2}
    assert active_entries(engine, org, "inv-1") == [1]  # the old set stays until replaced
    assert posting.post_documents(uow(), org, recreated.versions).posted == ["inv-1"]
    assert active_entries(engine, org, "inv-1") == [2]
    assert count(engine, "SELECT count(*) FROM journal_entries WHERE status = 'retired'") == 1


def test_a_recreate_of_an_unknown_document_is_rejected_naming_it(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    result = recreate_service.request_recreate(uow(), org, ["inv-1", "nope"], hold_seconds=None)
    assert result.versions == {"inv-1": 2}
    assert [(e.document_id, e.field) for e in result.rejected] == [("nope", "document_ids")]


def test_a_document_that_cannot_be_posted_fails_with_its_reason_and_the_rest_post(
    engine: Engine, uow: Any, org: str
) -> None:
    payout = {
        "id": "po-1",
        "type": "payout",
        "date": "2026-03-02",
        "currency": "EUR",
        "gross": "100.00",
        "fees": "1.40",
        "net": "98.60",
        "group": "stripe",
    }
    full = demo_data.matrix(org)
    without_payouts = {k: r for k, r in full.rules.items() if k[0] != "payout"}
    matrices.publish_matrix(uow(), org, replace(full, rules=without_payouts))
    upsert(uow, org, invoice("inv-1"), payout)  # after publishing: nothing checked it
    result = posting.post_documents(uow(), org, {"inv-1": 1, "po-1": 1})
    assert result.posted == ["inv-1"]
    assert "payout" in result.failed["po-1"]
    assert versions(engine, org, "po-1") == (1, 0, 1)
    assert queue_service.status(uow(), org)["dead"] == 1


def test_posting_for_an_unknown_organization_is_refused(engine: Engine, uow: Any) -> None:
    with pytest.raises(UnknownOrganization, match="nobody"):
        posting.post_documents(uow(), "nobody", {"inv-1": 1})


def test_a_line_cannot_be_added_to_an_entry_committed_earlier(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    posting.post_documents(uow(), org, {"inv-1": 1})
    with pytest.raises(IntegrityError, match="entry_txid"), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO journal_lines (entry_id, org_id, account_code, currency, amount,"
                " functional_amount, rate, rate_source, rate_date)"
                " SELECT id, org_id, '4000', 'EUR', -5, -5, 1, 'functional', entry_date"
                " FROM journal_entries"
            )
        )


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.ProtocolViolation("server conn crashed?"),  # PgBouncer killed mid-COPY
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
    ],
)
def test_a_connection_error_raised_by_the_driver_itself_leaves_as_transient(
    uow: Any, error: Exception
) -> None:
    with pytest.raises(TransientError), uow():
        raise error
