"""Pure posting: a document and a posting matrix in, a balanced journal entry draft out."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from accounting.documents import CreditNote, Document, Invoice, InvoiceLine, Payment, Refund
from accounting.errors import MissingExchangeRate, UnbalancedEntry
from accounting.matrix import PostingMatrix
from accounting.money import MONEY_CONTEXT, quantize

ZERO = Decimal(0)


@dataclass(frozen=True)
class Component:
    """One amount a document contributes, e.g. the tax of one tax group."""

    name: str
    group: str
    amount: Decimal


@dataclass(frozen=True)
class PostingFacts:
    """What posting needs of a document, whatever the matrix. Computed once, when the document
    is stored, so posting (and every recreate) skips parsing and validating it again."""

    document_id: str
    document_type: str
    entry_date: dt.date
    currency: str
    exchange_rate: Decimal | None
    components: tuple[Component, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.document_id,
            "type": self.document_type,
            "date": self.entry_date.isoformat(),
            "currency": self.currency,
            "exchange_rate": None if self.exchange_rate is None else str(self.exchange_rate),
            "components": [[c.name, c.group, str(c.amount)] for c in self.components],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PostingFacts:
        rate = data["exchange_rate"]
        return cls(
            data["id"],
            data["type"],
            dt.date.fromisoformat(data["date"]),
            data["currency"],
            None if rate is None else Decimal(rate),
            tuple(Component(n, g, Decimal(a)) for n, g, a in data["components"]),
        )


def posting_facts(document: Document) -> PostingFacts:
    return PostingFacts(
        document.id,
        document.type,
        document.date,
        document.currency,
        document.exchange_rate,
        tuple(components(document)),
    )


@dataclass(frozen=True)
class LineDraft:
    """Amounts are signed: positive debits, negative credits."""

    account: str
    amount: Decimal
    currency: str
    functional_amount: Decimal
    rate: Decimal
    rate_source: str
    rate_date: dt.date


@dataclass(frozen=True)
class EntryDraft:
    document_id: str
    document_type: str
    entry_date: dt.date
    currency: str
    matrix_version: int
    lines: tuple[LineDraft, ...]

    @property
    def total_debit(self) -> Decimal:
        return _sum(line.amount for line in self.lines if line.amount > 0)

    @property
    def total_credit(self) -> Decimal:
        return -_sum(line.amount for line in self.lines if line.amount < 0)

    @property
    def is_balanced(self) -> bool:
        return is_balanced(self.lines)


def is_balanced(lines: Iterable[LineDraft]) -> bool:
    """Debits equal credits, both in document and in functional currency."""
    lines = list(lines)
    return _sum(line.amount for line in lines) == 0 and (
        _sum(line.functional_amount for line in lines) == 0
    )


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    # Exact: the default 28-digit context could round away an imbalance in large amounts.
    with localcontext(MONEY_CONTEXT):
        return sum(amounts, ZERO)


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


def _raw_components(document: Document) -> list[tuple[str, str, Decimal]]:
    if isinstance(document, Invoice | CreditNote):
        return [part for line in document.lines for part in _line_parts(line, document.currency)]
    if isinstance(document, Payment | Refund):
        return [("gross", document.method, document.amount)]
    return [("net", document.group, document.net), ("fee", document.group, document.fees)]


def _line_parts(line: InvoiceLine, currency: str) -> list[tuple[str, str, Decimal]]:
    # Tax is computed on the rounded net, per line, so it matches what the invoice printed.
    net = quantize(line.quantity * line.unit_price, currency)
    tax = quantize(net * line.tax_rate, currency)
    return [("net", line.group, net), ("tax", line.tax_group, tax)]


def build_entry(document: Document, matrix: PostingMatrix, functional_currency: str) -> EntryDraft:
    """Post every component on its rule's debit and credit, netted per account."""
    return entry_for(posting_facts(document), matrix, functional_currency)


def entry_for(facts: PostingFacts, matrix: PostingMatrix, functional_currency: str) -> EntryDraft:
    """The entry of a stored document's posting facts under ``matrix``."""
    rate = _rate(facts, functional_currency)
    source = "functional" if facts.currency == functional_currency else "document"
    debits_and_credits: list[LineDraft] = []
    for component in facts.components:
        rule = matrix.resolve(facts.document_type, component.name, component.group)
        functional = _to_functional(component.amount, rate, functional_currency)
        debits_and_credits += [
            LineDraft(
                rule.debit,
                component.amount,
                facts.currency,
                functional,
                rate,
                source,
                facts.entry_date,
            ),
            LineDraft(
                rule.credit,
                -component.amount,
                facts.currency,
                -functional,
                rate,
                source,
                facts.entry_date,
            ),
        ]
    lines = _net_per_account(debits_and_credits)
    if not is_balanced(lines):
        raise UnbalancedEntry(f"entry for document {facts.document_id!r} does not balance")
    return EntryDraft(
        facts.document_id,
        facts.document_type,
        facts.entry_date,
        facts.currency,
        matrix.version,
        lines,
    )


def _rate(facts: PostingFacts, functional_currency: str) -> Decimal:
    if facts.currency == functional_currency:
        return Decimal(1)
    if facts.exchange_rate is None:
        raise MissingExchangeRate(
            f"document {facts.document_id!r} is in {facts.currency} but the functional "
            f"currency is {functional_currency}: it needs an exchange_rate"
        )
    return facts.exchange_rate


def _to_functional(amount: Decimal, rate: Decimal, functional_currency: str) -> Decimal:
    # Converting the component once, then using it on both sides, balances by construction.
    with localcontext(MONEY_CONTEXT):
        return quantize(amount * rate, functional_currency)


def _net_per_account(lines: list[LineDraft]) -> tuple[LineDraft, ...]:
    by_account: dict[str, list[LineDraft]] = defaultdict(list)
    for line in lines:
        by_account[line.account].append(line)
    netted = (_sum_lines(account, group) for account, group in sorted(by_account.items()))
    return tuple(line for line in netted if line.amount != 0 or line.functional_amount != 0)


def _sum_lines(account: str, lines: list[LineDraft]) -> LineDraft:
    amount = _sum(line.amount for line in lines)
    functional = _sum(line.functional_amount for line in lines)
    first = lines[0]
    return LineDraft(
        account, amount, first.currency, functional, first.rate, first.rate_source, first.rate_date
    )
