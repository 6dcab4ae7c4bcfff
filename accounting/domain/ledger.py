"""Pure posting: posting facts, a matrix and the organization's books in, the balanced entry
set of one document version out; and the reversal of an entry whose period has closed."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from types import MappingProxyType

from accounting.domain.facts import Component, PostingFacts, posting_facts
from accounting.domain.matrix import PostingMatrix
from accounting.domain.money import MONEY_CONTEXT, plain, quantize, split
from accounting.domain.periods import posting_date
from accounting.errors import MissingExchangeRate, RoundingDifferenceTooLarge, UnbalancedEntry
from accounting_impact_client.documents import Document

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class ExchangeRate:
    """Units of functional currency per unit of a currency, where it came from, and its date."""

    rate: Decimal
    source: str
    date: dt.date


@dataclass(frozen=True)
class PostingContext:
    """What posting needs to know of the organization besides its matrix."""

    functional_currency: str
    rounding_account: str | None = None
    rounding_tolerance: Decimal = ZERO
    closed_periods: frozenset[dt.date] = frozenset()
    #: The organization's rates for the documents at hand: (currency, document date) -> rate.
    rates: Mapping[tuple[str, dt.date], ExchangeRate] = field(
        default_factory=lambda: MappingProxyType({})
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
    #: Position in the document version's entry set (0: the document's own entry).
    seq: int = 0
    #: Set on a reversal: the entry it cancels.
    reverses_id: int | None = None

    @property
    def total_debit(self) -> Decimal:
        return _sum(line.amount for line in self.lines if line.amount > 0)

    @property
    def total_credit(self) -> Decimal:
        return -_sum(line.amount for line in self.lines if line.amount < 0)

    @property
    def is_balanced(self) -> bool:
        return is_balanced(self.lines)


@dataclass(frozen=True)
class PostedEntry:
    """An entry as stored, to be reversed."""

    id: int
    draft: EntryDraft


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


# -- the entry set of a document version -------------------------------------------------------


def build_entries(
    document: Document, matrix: PostingMatrix, context: PostingContext
) -> tuple[EntryDraft, ...]:
    return entry_set(posting_facts(document), matrix, context)


def entry_set(
    facts: PostingFacts, matrix: PostingMatrix, context: PostingContext
) -> tuple[EntryDraft, ...]:
    """The document's own entry, then its scheduled entries (a subscription's monthly revenue
    recognitions), each dated in an open period and balanced in both currencies."""
    rate = exchange_rate(facts, context)
    main = _entry(facts, _Plan(0, facts.entry_date, facts.components), matrix, context, rate)
    entries = [main]
    allocated = _allocate_deferred(facts, matrix, main, context.functional_currency)
    for seq, scheduled in enumerate(facts.schedule, start=1):
        fixed = {account: parts[seq - 1] for account, parts in allocated.items()}
        plan = _Plan(seq, scheduled.entry_date, scheduled.components, fixed)
        entries.append(_entry(facts, plan, matrix, context, rate))
    return tuple(entries)


def exchange_rate(facts: PostingFacts, context: PostingContext) -> ExchangeRate:
    """1 in the functional currency; else the document's own rate; else the organization's
    latest rate on or before the document's date."""
    if facts.currency == context.functional_currency:
        return ExchangeRate(ONE, "functional", facts.entry_date)
    if facts.exchange_rate is not None:
        return ExchangeRate(facts.exchange_rate, "document", facts.entry_date)
    rate = context.rates.get((facts.currency, facts.entry_date))
    if rate is None:
        raise MissingExchangeRate(
            f"document {facts.document_id!r} is in {facts.currency} and the functional currency "
            f"is {context.functional_currency}: no {facts.currency} rate on or before "
            f"{facts.entry_date} (supply one with `accounting rates set`, then retry the "
            f"document with `accounting dead retry`)"
        )
    return rate


@dataclass(frozen=True)
class _Plan:
    """One entry of a document's set: its place, its day, what it posts, and the functional
    amounts fixed in advance for some accounts."""

    seq: int
    day: dt.date
    components: tuple[Component, ...]
    fixed_functional: Mapping[str, Decimal] = field(default_factory=dict)


def _entry(
    facts: PostingFacts,
    plan: _Plan,
    matrix: PostingMatrix,
    context: PostingContext,
    rate: ExchangeRate,
) -> EntryDraft:
    """Each component on its rule's debit and credit, netted per account; each account's net
    converted on its own (or as fixed by the plan); what rounding leaves over goes to the
    rounding account."""
    lines = [
        LineDraft(
            account,
            amount,
            facts.currency,
            plan.fixed_functional[account]
            if account in plan.fixed_functional
            else _to_functional(amount, rate.rate, context.functional_currency),
            rate.rate,
            rate.source,
            rate.date,
        )
        for account, amount in _netted(facts.document_type, plan.components, matrix)
    ]
    draft = EntryDraft(
        facts.document_id,
        facts.document_type,
        posting_date(plan.day, context.closed_periods),
        facts.currency,
        matrix.version,
        tuple(_with_rounding(facts, lines, context)),
        plan.seq,
    )
    if not draft.is_balanced:
        raise UnbalancedEntry(f"entry for document {facts.document_id!r} does not balance")
    return draft


def _netted(
    document_type: str, components: tuple[Component, ...], matrix: PostingMatrix
) -> list[tuple[str, Decimal]]:
    """The components' amounts netted per account (debits positive), in account order, zeros
    left out."""
    amounts: defaultdict[str, Decimal] = defaultdict(Decimal)
    with localcontext(MONEY_CONTEXT):
        for component in components:
            rule = matrix.resolve(document_type, component.name, component.group)
            amounts[rule.debit] += component.amount
            amounts[rule.credit] -= component.amount
    return [(account, amount) for account, amount in sorted(amounts.items()) if amount != 0]


def _to_functional(amount: Decimal, rate: Decimal, functional_currency: str) -> Decimal:
    with localcontext(MONEY_CONTEXT):
        return quantize(amount * rate, functional_currency)


def _with_rounding(
    facts: PostingFacts, lines: list[LineDraft], context: PostingContext
) -> list[LineDraft]:
    difference = -_sum(line.functional_amount for line in lines)
    if difference == 0:
        return lines
    used = lines[0]
    where = (
        f"document {facts.document_id!r}: converting {facts.currency} to "
        f"{context.functional_currency} at {plain(used.rate)} "
        f"({used.rate_source}, {used.rate_date}) "
        f"leaves a rounding difference of {difference} {context.functional_currency}"
    )
    if context.rounding_account is None:
        raise RoundingDifferenceTooLarge(
            f"{where}, and the organization has no rounding account (set one with "
            f"`accounting rounding`)"
        )
    if abs(difference) > context.rounding_tolerance:
        raise RoundingDifferenceTooLarge(
            f"{where}, above the organization's tolerance of {plain(context.rounding_tolerance)} "
            f"{context.functional_currency}"
        )
    # The difference exists only in the functional currency: a line of amount 0.
    rounding = replace(used, account=context.rounding_account, amount=ZERO, functional_amount=ZERO)
    by_account = {line.account: line for line in lines}
    line = by_account.get(context.rounding_account, rounding)
    by_account[line.account] = replace(line, functional_amount=line.functional_amount + difference)
    return [
        line
        for _, line in sorted(by_account.items())
        if line.amount != 0 or line.functional_amount != 0
    ]


def _allocate_deferred(
    facts: PostingFacts, matrix: PostingMatrix, main: EntryDraft, functional_currency: str
) -> dict[str, list[Decimal]]:
    """Functional amounts of the scheduled entries on the account the document's own entry
    deferred to: that entry's functional amount split in proportion to the scheduled amounts,
    so a deferred-revenue account clears exactly in both currencies once the schedule is done
    (converting each month on its own would leave rounding behind)."""
    if not facts.schedule:
        return {}
    scheduled: defaultdict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * len(facts.schedule))
    with localcontext(MONEY_CONTEXT):
        for index, entry in enumerate(facts.schedule):
            for component in entry.components:
                rule = matrix.resolve(facts.document_type, component.name, component.group)
                scheduled[rule.debit][index] += component.amount
    deferred = {line.account: line for line in main.lines}
    return {
        account: split(-deferred[account].functional_amount, amounts, functional_currency)
        for account, amounts in scheduled.items()
        # Only an account the schedule releases in full.
        if account in deferred and deferred[account].amount == -_sum(amounts)
    }


# -- reversal ---------------------------------------------------------------------------------


def reversal_of(entry: PostedEntry, closed_periods: frozenset[dt.date]) -> EntryDraft:
    """An entry cancelling ``entry`` line by line, in the first open period after its own."""
    original = entry.draft
    lines = tuple(
        replace(line, amount=-line.amount, functional_amount=-line.functional_amount)
        for line in original.lines
    )
    return replace(
        original,
        entry_date=posting_date(original.entry_date, closed_periods),
        lines=lines,
        reverses_id=entry.id,
    )
