"""The books on real Postgres: periods and reversals, rates and rounding, deferred revenue,
clearing accounts; each invariant enforced where it must hold."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from accounting.errors import (
    DocumentRejected,
    InvalidExchangeRate,
    TransientError,
    UnknownCurrency,
    UnknownDocument,
)
from accounting.services import books, posting
from accounting.services.books import RateInput
from accounting.services.documents import upsert_documents
from accounting.services.queue import dead_documents, retry_dead
from accounting.services.recreate import request_recreate
from accounting.store.uow import UnitOfWork

from helpers import active_entries, await_lock_wait, count, invoice, unbalanced_entries, versions

MAX = 1000


def upsert(uow: Any, org: str, *docs: dict[str, Any]) -> None:
    result = upsert_documents(uow(), org, list(docs), max_documents=MAX)
    assert result.rejected == []


def post(uow: Any, org: str, **doc_versions: int) -> posting.PostResult:
    return posting.post_documents(uow(), org, doc_versions)


def recreate(uow: Any, org: str, doc_id: str) -> int:
    result = request_recreate(uow(), org, [doc_id], hold_seconds=None)
    return result.versions[doc_id]


def entries(engine: Engine, org: str, doc_id: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, document_version, seq, entry_date::text AS day, status, reverses_id,"
                " replaces_version FROM journal_entries"
                " WHERE org_id = :o AND document_id = :d ORDER BY id"
            ),
            {"o": org, "d": doc_id},
        ).all()
    return [dict(row._mapping) for row in rows]


def balances(engine: Engine, org: str, where: str = "true") -> dict[str, tuple[Decimal, Decimal]]:
    """What the books say per account: every entry but retired ones."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT l.account_code, sum(l.amount), sum(l.functional_amount)"
                " FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id"
                f" WHERE e.org_id = :o AND e.status <> 'retired' AND {where}"
                " GROUP BY l.account_code HAVING sum(l.amount) <> 0"
                " OR sum(l.functional_amount) <> 0 ORDER BY 1"
            ),
            {"o": org},
        ).all()
    return {account: (amount, functional) for account, amount, functional in rows}


# -- periods ----------------------------------------------------------------------------------


def test_recreating_in_an_open_period_retires_the_old_set_in_place(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    post(uow, org, **{"inv-1": 1})
    post(uow, org, **{"inv-1": recreate(uow, org, "inv-1")})
    rows = entries(engine, org, "inv-1")
    assert [(r["document_version"], r["status"], r["day"]) for r in rows] == [
        (1, "retired", "2026-03-01"),
        (2, "active", "2026-03-01"),
    ]
    assert rows[1]["replaces_version"] == 1
    assert balances(engine, org)["1100"] == (Decimal("119.00"), Decimal("119.00"))


def test_recreating_across_a_closed_period_reverses_the_old_set_in_the_first_open_one(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    post(uow, org, **{"inv-1": 1})
    march_before = balances(engine, org, "e.entry_date < '2026-04-01'")
    books.close_period(uow(), org, "2026-03")
    changed = {**invoice("inv-1", unit_price="200.00"), "date": "2026-03-15"}
    upsert(uow, org, changed)
    assert post(uow, org, **{"inv-1": 2}).posted == ["inv-1"]

    old, reversal, new = entries(engine, org, "inv-1")
    assert (old["status"], old["day"]) == ("reversed", "2026-03-01")
    assert (reversal["status"], reversal["day"], reversal["reverses_id"]) == (
        "reversal",
        "2026-04-01",
        old["id"],
    )
    assert (new["status"], new["day"], new["replaces_version"]) == ("active", "2026-04-01", 1)
    # March's books did not change; overall they say what the new version says, once.
    assert balances(engine, org, "e.entry_date < '2026-04-01'") == march_before
    assert balances(engine, org)["1100"] == (Decimal("238.00"), Decimal("238.00"))
    assert active_entries(engine, org, "inv-1") == [2]
    assert unbalanced_entries(engine) == 0


def test_the_database_refuses_to_post_into_a_closed_period(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    books.close_period(uow(), org, "2026-03")
    closed = "period 2026-03 of organization acme is closed"
    with pytest.raises(DBAPIError, match=closed), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO journal_entries (org_id, document_id, document_version,"
                " document_type, matrix_version, entry_date, currency)"
                " VALUES ('acme', 'inv-1', 1, 'invoice', 1, '2026-03-31', 'EUR')"
            )
        )
    assert count(engine, "SELECT count(*) FROM journal_entries") == 0


def test_the_database_refuses_to_retire_an_entry_of_a_closed_period(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    post(uow, org, **{"inv-1": 1})
    books.close_period(uow(), org, "2026-03")
    with pytest.raises(DBAPIError, match="closed"), engine.begin() as connection:
        connection.execute(text("UPDATE journal_entries SET status = 'retired'"))
    with pytest.raises(DBAPIError, match="cannot be deleted"), engine.begin() as connection:
        connection.execute(text("DELETE FROM journal_entries"))
    with pytest.raises(DBAPIError, match="nothing else"), engine.begin() as connection:
        connection.execute(text("UPDATE journal_entries SET entry_date = '2026-04-01'"))
    assert active_entries(engine, org, "inv-1") == [1]


def test_a_document_dated_in_a_closed_period_posts_in_the_next_open_one(
    engine: Engine, uow: Any, org: str
) -> None:
    books.close_period(uow(), org, "2026-03")
    books.close_period(uow(), org, "2026-04")
    upsert(uow, org, invoice("inv-1"))
    post(uow, org, **{"inv-1": 1})
    assert [r["day"] for r in entries(engine, org, "inv-1")] == ["2026-05-01"]
    assert books.list_periods(uow(), org) == [
        ("2026-03", "closed"),
        ("2026-04", "closed"),
        ("2026-05", "open"),
    ]


def test_a_reopened_period_takes_entries_again(engine: Engine, uow: Any, org: str) -> None:
    books.close_period(uow(), org, "2026-03")
    assert books.reopen_period(uow(), org, "2026-03").changed
    assert not books.reopen_period(uow(), org, "2026-03").changed
    upsert(uow, org, invoice("inv-1"))
    post(uow, org, **{"inv-1": 1})
    assert [r["day"] for r in entries(engine, org, "inv-1")] == ["2026-03-01"]


def test_closing_a_period_waits_for_a_posting_in_flight(engine: Engine, uow: Any, org: str) -> None:
    upsert(uow, org, invoice("inv-1"))
    with UnitOfWork(engine) as posting_uow:
        # A posting has written its entry into March and not committed yet...
        posting_uow.versions.mark_posted(org, {"inv-1": 1})
        posting_uow.connection.execute(
            text(
                "INSERT INTO journal_entries (org_id, document_id, document_version,"
                " document_type, matrix_version, entry_date, currency)"
                " VALUES ('acme', 'inv-1', 1, 'invoice', 1, '2026-03-05', 'EUR')"
            )
        )
        closer = threading.Thread(target=lambda: books.close_period(uow(), org, "2026-03"))
        closer.start()
        await_lock_wait(engine)  # ...so the close waits for it.
        assert closer.is_alive()
        posting_uow.commit()
    closer.join(timeout=30)
    assert not closer.is_alive()
    assert books.list_periods(uow(), org) == [("2026-03", "closed")]
    assert count(engine, "SELECT count(*) FROM journal_entries") == 1


def test_a_posting_that_waited_for_a_close_fails_and_is_retried_later(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, invoice("inv-1"))
    post_outcome: dict[str, BaseException] = {}

    def post_now() -> None:
        try:
            post(uow, org, **{"inv-1": 1})
        except BaseException as exc:
            post_outcome["error"] = exc

    with UnitOfWork(engine) as closing:
        closing.books.set_period_status(org, books.parse_period("2026-03"), "closed")
        poster = threading.Thread(target=post_now)
        poster.start()
        await_lock_wait(engine)
        closing.commit()
    poster.join(timeout=30)
    assert isinstance(post_outcome.get("error"), TransientError)
    assert versions(engine, org, "inv-1") == (1, 0, 0)
    post(uow, org, **{"inv-1": 1})  # the retry plans around the closed month
    assert [r["day"] for r in entries(engine, org, "inv-1")] == ["2026-04-01"]


def test_two_versions_can_never_be_active_at_once(engine: Engine, uow: Any, org: str) -> None:
    upsert(uow, org, invoice("inv-1"))
    post(uow, org, **{"inv-1": 1})
    with pytest.raises(DBAPIError, match="two versions"), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO journal_entries (org_id, document_id, document_version, seq,"
                " document_type, matrix_version, entry_date, currency)"
                " VALUES ('acme', 'inv-1', 2, 1, 'invoice', 1, '2026-03-05', 'EUR')"
            )
        )


# -- rates and rounding ----------------------------------------------------------------------


def usd_invoice(doc_id: str, *nets: str) -> dict[str, Any]:
    groups = ("products", "services")[: len(nets)]  # two revenue accounts
    lines = [
        {"quantity": "1", "unit_price": n, "group": g} for g, n in zip(groups, nets, strict=True)
    ]
    return {"id": doc_id, "type": "invoice", "date": "2026-03-10", "currency": "USD"} | {
        "lines": lines
    }


def set_usd_rate(uow: Any, org: str, rate: str, day: str = "2026-03-01") -> None:
    books.set_exchange_rates(
        uow(), org, [RateInput("USD", books.dt.date.fromisoformat(day), Decimal(rate), "ECB")]
    )


def test_lines_store_amount_functional_amount_and_the_rate_with_source_and_date(
    engine: Engine, uow: Any, org: str
) -> None:
    set_usd_rate(uow, org, "0.9", "2026-03-01")
    set_usd_rate(uow, org, "0.8", "2026-03-11")  # after the document: not used
    upsert(uow, org, usd_invoice("usd-1", "10.00"))
    assert post(uow, org, **{"usd-1": 1}).posted == ["usd-1"]
    with engine.connect() as connection:
        lines = connection.execute(
            text(
                "SELECT account_code, currency, amount, functional_amount, rate, rate_source,"
                " rate_date::text FROM journal_lines ORDER BY account_code"
            )
        ).all()
    assert [tuple(map(str, line)) for line in lines] == [
        ("1100", "USD", "10.00000000", "9.00000000", "0.900000000000", "ECB", "2026-03-01"),
        ("4000", "USD", "-10.00000000", "-9.00000000", "0.900000000000", "ECB", "2026-03-01"),
    ]


def test_a_rounding_difference_inside_tolerance_is_booked_to_the_rounding_account(
    engine: Engine, uow: Any, org: str
) -> None:
    set_usd_rate(uow, org, "0.5")
    upsert(uow, org, usd_invoice("usd-1", "0.01", "0.01"))
    assert post(uow, org, **{"usd-1": 1}).posted == ["usd-1"]
    assert balances(engine, org)["6990"] == (Decimal(0), Decimal("0.01"))
    assert unbalanced_entries(engine) == 0


def test_a_rounding_difference_outside_tolerance_fails_the_document_with_a_clear_reason(
    engine: Engine, uow: Any, org: str
) -> None:
    books.set_rounding(uow(), org, "6990", Decimal(0))
    set_usd_rate(uow, org, "0.5")
    upsert(uow, org, usd_invoice("usd-1", "0.01", "0.01"), invoice("eur-1"))
    result = post(uow, org, **{"usd-1": 1, "eur-1": 1})
    assert result.posted == ["eur-1"]
    assert "above the organization's tolerance of 0 EUR" in result.failed["usd-1"]
    [dead] = dead_documents(uow(), org)
    assert dead.document_id == "usd-1" and "rounding difference of 0.01 EUR" in (dead.error or "")
    assert count(engine, "SELECT count(*) FROM journal_entries WHERE document_id = 'usd-1'") == 0


def test_a_missing_rate_fails_the_document_until_a_rate_is_supplied_and_it_is_retried(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, usd_invoice("usd-1", "10.00"))
    result = post(uow, org, **{"usd-1": 1})
    assert "no USD rate on or before 2026-03-10" in result.failed["usd-1"]
    set_usd_rate(uow, org, "0.9")
    assert retry_dead(uow(), org, ["usd-1"]) == 1
    assert post(uow, org, **{"usd-1": 1}).posted == ["usd-1"]


@pytest.mark.parametrize(
    ("rate", "error", "match"),
    [
        (RateInput("EUR", books.dt.date(2026, 3, 1), Decimal(1), "x"), InvalidExchangeRate, "EUR"),
        (RateInput("USD", books.dt.date(2026, 3, 1), Decimal(0), "x"), InvalidExchangeRate, "USD"),
        (RateInput("XXX", books.dt.date(2026, 3, 1), Decimal(1), "x"), UnknownCurrency, "XXX"),
        (
            RateInput("USD", books.dt.date(2026, 3, 1), Decimal("1.0000000000001"), "x"),
            InvalidExchangeRate,
            "decimal places",
        ),
    ],
)
def test_a_bad_rate_is_refused_and_nothing_is_stored(
    engine: Engine, uow: Any, org: str, rate: RateInput, error: type[Exception], match: str
) -> None:
    good = RateInput("GBP", books.dt.date(2026, 3, 1), Decimal("1.17"), "x")
    with pytest.raises(error, match=match):
        books.set_exchange_rates(uow(), org, [good, rate])
    assert count(engine, "SELECT count(*) FROM exchange_rates") == 0


# -- deferred revenue and clearing -----------------------------------------------------------


def subscription(doc_id: str, net: str, months: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": doc_id,
        "type": "subscription_invoice",
        "date": "2026-01-15",
        "currency": "EUR",
        "service_start": "2026-01-15",
        "term_months": months,
        "lines": [{"quantity": "1", "unit_price": net, "tax_rate": "0.19"}],
    } | extra


def test_a_deferred_revenue_schedule_spans_a_year_one_entry_per_period(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, subscription("sub-1", "1200.00", 12))
    assert post(uow, org, **{"sub-1": 1}).posted == ["sub-1"]
    rows = entries(engine, org, "sub-1")
    assert [r["seq"] for r in rows] == list(range(13))
    months = [r["day"][:7] for r in rows[1:]]
    assert months == [f"2026-{m:02d}" for m in range(1, 13)]
    assert "2400" not in balances(engine, org)  # deferred revenue fully released
    assert balances(engine, org)["4020"] == (Decimal("-1200.00"), Decimal("-1200.00"))
    # Half-way through the year, half is recognised.
    assert balances(engine, org, "e.entry_date < '2026-07-01'")["2400"] == (
        Decimal("-600.00"),
        Decimal("-600.00"),
    )
    assert count(engine, "SELECT count(*) FROM periods WHERE org_id = 'acme'") == 12


def test_recreating_a_subscription_replaces_its_whole_schedule(
    engine: Engine, uow: Any, org: str
) -> None:
    upsert(uow, org, subscription("sub-1", "1200.00", 12))
    post(uow, org, **{"sub-1": 1})
    books.close_period(uow(), org, "2026-01")
    books.close_period(uow(), org, "2026-02")
    upsert(uow, org, subscription("sub-1", "600.00", 6, date="2026-03-01"))
    assert post(uow, org, **{"sub-1": 2}).posted == ["sub-1"]
    rows = entries(engine, org, "sub-1")
    statuses = [(r["document_version"], r["status"]) for r in rows]
    # January (invoice + recognition) and February were closed: reversed; the rest retired.
    assert statuses.count((1, "reversed")) == 3
    assert statuses.count((1, "retired")) == 10
    assert statuses.count((2, "reversal")) == 3
    assert statuses.count((2, "active")) == 7
    assert active_entries(engine, org, "sub-1") == [2] * 7
    assert "2400" not in balances(engine, org)
    assert balances(engine, org)["4020"] == (Decimal("-600.00"), Decimal("-600.00"))
    assert unbalanced_entries(engine) == 0


def test_the_psp_clearing_account_nets_to_zero_once_the_payout_is_posted(
    engine: Engine, uow: Any, org: str
) -> None:
    day = {"date": "2026-03-02", "currency": "EUR"}
    payments = [
        {"id": f"pay-{n}", "type": "payment", "amount": amount} | day
        for n, amount in enumerate(["19.99", "120.00", "5.01"])
    ]
    payout = {"id": "po-1", "type": "payout", "gross": "145.00", "fees": "2.03", "net": "142.97"}
    upsert(uow, org, *payments, payout | day)
    post(uow, org, **{p["id"]: 1 for p in payments})
    assert balances(engine, org)["1200"] == (Decimal("145.00"), Decimal("145.00"))
    post(uow, org, **{"po-1": 1})
    assert "1200" not in balances(engine, org)
    assert balances(engine, org)["1000"] == (Decimal("142.97"), Decimal("142.97"))


# -- preview ----------------------------------------------------------------------------------


def test_a_preview_shows_the_entry_set_a_document_would_get_and_writes_nothing(
    engine: Engine, uow: Any, org: str
) -> None:
    books.close_period(uow(), org, "2026-01")
    drafts = posting.preview_entries(uow(), org, None, document=subscription("sub-9", "90.00", 3))
    assert [(d.seq, d.entry_date.isoformat()) for d in drafts] == [
        (0, "2026-02-01"),  # January is closed
        (1, "2026-02-01"),
        (2, "2026-02-15"),
        (3, "2026-03-15"),
    ]
    assert all(d.is_balanced and d.matrix_version == 1 for d in drafts)
    assert count(engine, "SELECT count(*) FROM documents") == 0
    assert count(engine, "SELECT count(*) FROM journal_entries") == 0


def test_a_preview_of_a_bad_document_names_the_document_and_the_field(uow: Any, org: str) -> None:
    with pytest.raises(DocumentRejected, match="'sub-9': term_months"):
        posting.preview_entries(uow(), org, None, document=subscription("sub-9", "1", 0))


def test_a_stored_document_can_be_previewed_by_id(uow: Any, org: str) -> None:
    upsert(uow, org, invoice("inv-1"))
    [draft] = posting.preview_entries(uow(), org, None, document_id="inv-1")
    assert draft.total_debit == Decimal("119.00")
    with pytest.raises(UnknownDocument, match="'nope'"):
        posting.preview_entries(uow(), org, None, document_id="nope")
