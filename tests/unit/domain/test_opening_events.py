"""The events that open a job: accepted with its counts, its rejections (capped), done at once
when it waits for nothing; and the one event of a request refused before it was a job."""

from __future__ import annotations

from accounting.domain.jobs import (
    MAX_REJECTED_EVENTS,
    TERMINAL_EVENTS,
    accepted_events,
    refused_event,
)
from accounting_impact_client.documents import Rejection


def rejections(n: int) -> list[Rejection]:
    return [Rejection(f"bad-{i}", "currency", "not an ISO 4217 currency code") for i in range(n)]


def test_accepted_counts_the_rejected_documents_and_each_follows_it() -> None:
    events = accepted_events("j", "acme", "sync", 3, rejections(2))
    assert events == [
        ("accepted", {"job_id": "j", "org_id": "acme", "kind": "sync", "total": 3, "rejected": 2}),
        (
            "rejected",
            {
                "document_id": "bad-0",
                "field": "currency",
                "message": "not an ISO 4217 currency code",
            },
        ),
        (
            "rejected",
            {
                "document_id": "bad-1",
                "field": "currency",
                "message": "not an ISO 4217 currency code",
            },
        ),
    ]


def test_rejected_events_stop_at_the_cap_and_the_last_counts_the_rest() -> None:
    events = accepted_events("j", "acme", "sync", 0, rejections(MAX_REJECTED_EVENTS + 25))
    types = [event_type for event_type, _ in events]
    assert types == ["accepted", *["rejected"] * (MAX_REJECTED_EVENTS + 1), "done"]
    assert events[0][1]["rejected"] == MAX_REJECTED_EVENTS + 25
    assert events[MAX_REJECTED_EVENTS][1]["document_id"] == f"bad-{MAX_REJECTED_EVENTS - 1}"
    summary = events[MAX_REJECTED_EVENTS + 1][1]
    assert summary["more"] == 25 and summary["document_id"] is None
    assert summary["message"].startswith("25 more documents rejected")
    assert events[-1] == ("done", {"posted": 0, "failed": 0, "total": 0})


def test_exactly_the_cap_needs_no_summary() -> None:
    events = accepted_events("j", "acme", "sync", 1, rejections(MAX_REJECTED_EVENTS))
    assert all("more" not in data for _, data in events)
    assert len(events) == MAX_REJECTED_EVENTS + 1


def test_a_refusal_names_the_organization_the_error_and_why_and_ends_the_stream() -> None:
    event_type, data = refused_event("acme", "UnknownOrganization", "unknown organization 'x'")
    assert data == {
        "org_id": "acme",
        "error": "UnknownOrganization",
        "message": "unknown organization 'x'",
    }
    assert event_type in TERMINAL_EVENTS and "done" in TERMINAL_EVENTS
