"""Posting facts: what posting needs of a document, whatever the matrix, computed once."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from accounting.domain.money import MONEY_CONTEXT, quantize, split
from accounting.domain.periods import add_months
from accounting_impact_client.documents import (
    CreditNote,
    Document,
    Invoice,
    InvoiceLine,
    Payment,
    Refund,
    SubscriptionInvoice,
)


@dataclass(frozen=True)
class Component:
    """One amount a document contributes, e.g. the tax of one tax group."""

    name: str
    group: str
    amount: Decimal


@dataclass(frozen=True)
class ScheduledEntry:
    """A later entry of the document's set, e.g. one month's revenue recognition."""

    entry_date: dt.date
    components: tuple[Component, ...]


@dataclass(frozen=True)
class PostingFacts:
    """Computed when the document is stored, so posting (and every recreate) skips parsing
    and validating it again."""

    document_id: str
    document_type: str
    entry_date: dt.date
    currency: str
    exchange_rate: Decimal | None
    components: tuple[Component, ...]
    schedule: tuple[ScheduledEntry, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.document_id,
            "type": self.document_type,
            "date": self.entry_date.isoformat(),
            "currency": self.currency,
            "exchange_rate": None if self.exchange_rate is None else str(self.exchange_rate),
            "components": _components_json(self.components),
        }
        if self.schedule:
            data["schedule"] = [
                [s.entry_date.isoformat(), _components_json(s.components)] for s in self.schedule
            ]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PostingFacts:
        rate = data["exchange_rate"]
        return cls(
            data["id"],
            data["type"],
            dt.date.fromisoformat(data["date"]),
            data["currency"],
            None if rate is None else Decimal(rate),
            _components(data["components"]),
            tuple(
                ScheduledEntry(dt.date.fromisoformat(day), _components(parts))
                for day, parts in data.get("schedule", ())
            ),
        )

    def used_components(self) -> set[tuple[str, str, str]]:
        """The (document type, component, group) triples a posting matrix must resolve."""
        parts = [*self.components, *(c for s in self.schedule for c in s.components)]
        return {(self.document_type, c.name, c.group) for c in parts}


def _components_json(components: tuple[Component, ...]) -> list[list[str]]:
    return [[c.name, c.group, str(c.amount)] for c in components]


def _components(data: list[list[str]]) -> tuple[Component, ...]:
    return tuple(Component(n, g, Decimal(a)) for n, g, a in data)


def posting_facts(document: Document) -> PostingFacts:
    parts = components(document)
    return PostingFacts(
        document.id,
        document.type,
        document.date,
        document.currency,
        document.exchange_rate,
        tuple(parts),
        recognition_schedule(document, parts),
    )


def components(document: Document) -> list[Component]:
    """The non-zero amounts the document posts, sorted by (name, group)."""
    totals: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with localcontext(MONEY_CONTEXT):
        for name, group, amount in _raw_components(document):
            # Validation already bounds the places; this only restores trailing zeros.
            totals[name, group] += quantize(amount, document.currency)
    return [
        Component(name, group, amount)
        for (name, group), amount in sorted(totals.items())
        if amount != 0
    ]


def recognition_schedule(document: Document, parts: list[Component]) -> tuple[ScheduledEntry, ...]:
    """A subscription's net revenue, recognised in equal monthly parts over its term (largest
    remainder, so the parts add up to the net exactly), one entry per month from the service
    start."""
    if not isinstance(document, SubscriptionInvoice):
        return ()
    months = document.term_months
    shares = [
        (c.group, split(c.amount, [Decimal(1)] * months, document.currency))
        for c in parts
        if c.name == "net"
    ]
    schedule = []
    for month in range(months):
        recognised = tuple(
            Component("recognition", group, amounts[month])
            for group, amounts in shares
            if amounts[month] != 0
        )
        if recognised:
            schedule.append(ScheduledEntry(add_months(document.service_start, month), recognised))
    return tuple(schedule)


def _raw_components(document: Document) -> list[tuple[str, str, Decimal]]:
    if isinstance(document, Invoice | CreditNote | SubscriptionInvoice):
        return [part for line in document.lines for part in _line_parts(line, document.currency)]
    if isinstance(document, Payment | Refund):
        return [("gross", document.method, document.amount)]
    return [("net", document.group, document.net), ("fee", document.group, document.fees)]


def _line_parts(line: InvoiceLine, currency: str) -> list[tuple[str, str, Decimal]]:
    net, tax = line.amounts(currency)
    return [("net", line.group, net), ("tax", line.tax_group, tax)]
