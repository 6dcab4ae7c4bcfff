"""Business documents as they arrive: strict pydantic models, validation, rejections and
content hashes."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from accounting_impact_client.limits import (
    MAX_ID_LENGTH,
    functional_problem,
    line_net_problem,
    lines_problem,
    schedule_problem,
    total_problem,
)
from accounting_impact_client.money import CURRENCY_EXPONENTS, MONEY_CONTEXT, quantize
from accounting_impact_client.values import (
    Currency,
    DocumentId,
    DocumentRate,
    FreeText,
    IsoDate,
    Label,
    Money,
    NonNegativeMoney,
    PositiveMoney,
    PositiveQuantity,
    Revision,
    TaxRate,
    TermMonths,
    UnitPrice,
    as_identifier,
    decimal_places,
)


@dataclass(frozen=True)
class Rejection:
    """One reason a document was rejected: which document, which field, why."""

    document_id: str | None
    field: str
    message: str

    def as_dict(self) -> dict[str, str | None]:
        return {"document_id": self.document_id, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        who = f"document {self.document_id!r}" if self.document_id is not None else "document"
        return f"{who}: {self.field}: {self.message}"


class _DocumentBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: DocumentId
    #: The application's own revision of this document (a row version, or its updated_at in
    #: milliseconds). Optional; when given, a document arriving with a lower revision than the
    #: one stored is ignored, so a message delivered late cannot undo a newer one.
    revision: Revision | None = None
    date: IsoDate
    currency: Currency
    exchange_rate: DocumentRate | None = None

    #: The field a problem with the document's total is reported on.
    _total_field: ClassVar[str]

    def _amount_errors(self) -> list[InitErrorDetails]:
        """Cross-field problems, each reported on its own field."""
        return []

    def posted_total(self) -> Decimal:
        """What the document posts, every amount counted as positive, in its currency: no line
        of its entries (once the matrix has netted its amounts per account) is larger."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _check_amounts(self) -> Self:
        errors = self._amount_errors() or self._total_errors()
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    def _total_errors(self) -> list[InitErrorDetails]:
        """What the document adds up to, and is worth at its own rate (see limits)."""
        total, field = self.posted_total(), self._total_field
        problem = total_problem(total, self.currency)
        if problem:
            return [_error(field, getattr(self, field), "total", problem)]
        problem = functional_problem(total, self.currency, self.exchange_rate)
        if problem:
            return [_error("exchange_rate", self.exchange_rate, "functional_total", problem)]
        return []

    def _places_errors(self, *fields: str) -> list[InitErrorDetails]:
        """Amounts paid or settled cannot be finer than the currency's minor unit."""
        places = CURRENCY_EXPONENTS[self.currency]
        message = f"at most {places} decimal places for {self.currency}"
        return [
            _error(field, getattr(self, field), "currency_places", message)
            for field in fields
            if decimal_places(getattr(self, field)) > places
        ]


def _error(field: str | tuple[str, int], value: object, kind: str, why: str) -> InitErrorDetails:
    loc = (field,) if isinstance(field, str) else field
    return InitErrorDetails(type=PydanticCustomError(kind, why), loc=loc, input=value)


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    group: Label = "default"
    quantity: PositiveQuantity
    unit_price: UnitPrice
    tax_rate: TaxRate = Decimal(0)
    tax_group: Label = "default"
    description: FreeText | None = None

    def amounts(self, currency: str) -> tuple[Decimal, Decimal]:
        """(net, tax) in ``currency``: quantity x unit price rounded to its minor unit, and the
        tax on that rounded net (per line, so it matches what the invoice printed)."""
        net = quantize(MONEY_CONTEXT.multiply(self.quantity, self.unit_price), currency)
        return net, quantize(MONEY_CONTEXT.multiply(net, self.tax_rate), currency)


def _not_too_many_lines(value: object) -> object:
    # Before the lines are validated one by one: a million of them are refused at once.
    problem = lines_problem(len(value)) if isinstance(value, list) else None
    if problem:
        raise PydanticCustomError("too_many_lines", problem)
    return value


InvoiceLines = Annotated[
    list[InvoiceLine], BeforeValidator(_not_too_many_lines), Field(min_length=1)
]


class _LinesDocument(_DocumentBase):
    """An invoice, a credit note or a subscription invoice: a document of lines."""

    lines: InvoiceLines
    _total_field = "lines"

    def posted_total(self) -> Decimal:
        amounts = [amount for line in self.lines for amount in line.amounts(self.currency)]
        with localcontext(MONEY_CONTEXT):  # exact: no rounding of a large sum
            return sum(amounts, Decimal(0))

    def _amount_errors(self) -> list[InitErrorDetails]:
        """A line whose net an amount cannot hold, on that line."""
        nets = [line.amounts(self.currency)[0] for line in self.lines]
        return [
            _error(("lines", n), self.lines[n], "amount_too_large", problem)
            for n, net in enumerate(nets)
            if (problem := line_net_problem(net, self.currency))
        ]


class Invoice(_LinesDocument):
    type: Literal["invoice"] = "invoice"


class CreditNote(_LinesDocument):
    type: Literal["credit_note"] = "credit_note"


class SubscriptionInvoice(_LinesDocument):
    """An invoice for a service delivered over ``term_months`` months from ``service_start``:
    its net revenue is deferred and recognised month by month."""

    type: Literal["subscription_invoice"] = "subscription_invoice"
    service_start: IsoDate
    term_months: TermMonths

    @property
    def schedule_amounts(self) -> int:
        """Monthly recognition amounts: one per line group and month."""
        return len({line.group for line in self.lines}) * self.term_months

    def _amount_errors(self) -> list[InitErrorDetails]:
        errors = super()._amount_errors()
        problem = schedule_problem(len({line.group for line in self.lines}), self.term_months)
        if problem:
            errors.append(_error("term_months", self.term_months, "schedule_too_large", problem))
        return errors


class _Settlement(_DocumentBase):
    """Money paid in or back: one amount, by one method."""

    amount: PositiveMoney
    method: Label = "default"
    _total_field = "amount"

    def posted_total(self) -> Decimal:
        return self.amount

    def _amount_errors(self) -> list[InitErrorDetails]:
        return self._places_errors("amount")


class Payment(_Settlement):
    type: Literal["payment"] = "payment"


class Refund(_Settlement):
    type: Literal["refund"] = "refund"


class Payout(_DocumentBase):
    type: Literal["payout"] = "payout"
    gross: NonNegativeMoney
    fees: NonNegativeMoney
    net: Money
    group: Label = "default"
    _total_field = "gross"

    def posted_total(self) -> Decimal:
        # It posts its net (negative when the fees are above the gross) and its fees.
        return MONEY_CONTEXT.add(abs(self.net), self.fees)

    def _amount_errors(self) -> list[InitErrorDetails]:
        errors = self._places_errors("gross", "fees", "net")
        if self.net != self.gross - self.fees:
            message = f"must equal gross - fees ({self.gross - self.fees})"
            errors.append(_error("net", self.net, "payout_net", message))
        return errors


Document = Annotated[
    Invoice | CreditNote | SubscriptionInvoice | Payment | Refund | Payout,
    Field(discriminator="type"),
]
_KINDS = (Invoice, CreditNote, SubscriptionInvoice, Payment, Refund, Payout)
DOCUMENT_TYPES: tuple[str, ...] = tuple(kind.model_fields["type"].default for kind in _KINDS)
_DOCUMENT_ADAPTER: TypeAdapter[Document] = TypeAdapter(Document)


# --- operations on documents ----------------------------------------------------------------


def canonical_json(document: Document) -> str:
    """The document's content (all but its revision) as compact JSON with sorted keys:
    identical content, identical text."""
    return json.dumps(
        document.model_dump(mode="json", exclude={"revision"}),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )


def content_hash(document: Document, canonical: str | None = None) -> str:
    """sha256 of the canonical JSON (pass it if you have it): identical content, identical hash."""
    text = canonical if canonical is not None else canonical_json(document)
    return hashlib.sha256(text.encode()).hexdigest()


def estimated_cost(document: Document) -> int:
    """Relative posting work, for scheduling: invoices cost one unit per line, a subscription
    also one per amount it recognises (each of its line groups, each month)."""
    if isinstance(document, SubscriptionInvoice):
        return len(document.lines) + document.schedule_amounts
    if isinstance(document, Invoice | CreditNote):
        return len(document.lines)
    return 1


def validate_documents(raw: Sequence[object]) -> tuple[list[Document], list[Rejection]]:
    """Validate each item on its own: good documents are kept even when others fail. An id that
    appears more than once in the call is rejected in every copy: which copy the caller meant
    is not ours to guess."""
    documents: list[Document] = []
    errors: list[Rejection] = []
    copies = Counter(_raw_id(item) for item in raw)
    for item in raw:
        document_id = _raw_id(item)
        if document_id is not None and copies[document_id] > 1:
            message = f"document id appears {copies[document_id]} times in this call"
            errors.append(Rejection(document_id, "id", message))
            continue
        document, item_errors = _validate_one(item, document_id)
        documents.extend([document] if document is not None else [])
        errors.extend(item_errors)
    return documents, errors


def _raw_id(item: object) -> str | None:
    """The item's id as reported with its errors (in NFC, as it would be stored: the NFC and
    NFD forms of one id are copies of one document): cut short if too long to be an id."""
    if isinstance(item, dict):
        value = item.get("id")
        if isinstance(value, str):
            if len(value) > MAX_ID_LENGTH:
                return value[:MAX_ID_LENGTH] + "…"
            return as_identifier(value)
    return None


def _validate_one(item: object, document_id: str | None) -> tuple[Document | None, list[Rejection]]:
    if not isinstance(item, dict):
        return None, [Rejection(None, "document", "document must be a JSON object")]
    try:
        return _DOCUMENT_ADAPTER.validate_python(item), []
    except ValidationError as exc:
        tag = item.get("type")
        return None, [_field_error(document_id, error, tag) for error in exc.errors()]


def _field_error(document_id: str | None, error: ErrorDetails, tag: Any) -> Rejection:
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return Rejection(document_id, "type", _type_message(tag))
    loc = error["loc"]
    # Pydantic prefixes the discriminator tag ("invoice") to every path; callers never wrote it.
    if loc and loc[0] == tag:
        loc = loc[1:]
    return Rejection(document_id, ".".join(str(part) for part in loc) or "document", error["msg"])


def _type_message(tag: object) -> str:
    expected = ", ".join(DOCUMENT_TYPES)
    if tag is None:
        return f"missing document type; expected one of: {expected}"
    if not isinstance(tag, str):
        return f"document type must be a string; expected one of: {expected}"
    return f"unknown document type {tag[:64]!r}; expected one of: {expected}"
