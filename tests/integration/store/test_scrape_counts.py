"""What a scrape counts (pending per lane, in flight, dead) is read from small partial
indexes, never by reading the whole ``documents`` table, and agrees with the full count."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from accounting.services import documents, posting
from accounting.services.queue import queue_figures
from accounting.store.uow import UnitOfWork

from helpers import invoice


def test_the_lane_counts_agree_with_a_full_count(uow: Any, org: str) -> None:
    documents.upsert_documents(
        uow(), org, [invoice(f"inv-{n}") for n in range(5)], max_documents=10
    )
    posting.post_documents(uow(), org, {"inv-0": 1, "inv-1": 1})
    with uow() as unit:
        lanes, full = unit.queue.lane_counts(), unit.queue.status_counts()
        assert lanes == unit.queue.lane_counts(org)
    assert lanes == {
        key: full[key] for key in ("pending_high", "pending_normal", "in_flight", "dead")
    }
    assert lanes["pending_normal"] == 3
    figures = queue_figures(uow())
    assert figures.dead == full["dead"] and sum(figures.pending.values()) == 3


PARTIAL_INDEXES = ("ix_documents_pending ", "ix_documents_leased", "ix_documents_dead")


def test_no_count_of_a_scrape_reads_the_whole_table(engine: Engine, org: str) -> None:
    """Every read of ``documents`` in the plan is of a partial index (the backlog, the leased,
    the dead): none of the table, none of its primary key. Sequential scans are priced out,
    so an empty test table plans as a large one would."""
    with UnitOfWork(engine) as unit:
        unit.connection.execute(text("SET LOCAL enable_seqscan = off"))
        statement = unit.queue.lane_counts_statement(org_id=None)
        plan = "\n".join(row[0] for row in unit.connection.execute(text(f"EXPLAIN {statement}")))
    assert "Seq Scan on documents" not in plan and "documents_pkey" not in plan, plan
    assert all(index in plan for index in PARTIAL_INDEXES), plan
