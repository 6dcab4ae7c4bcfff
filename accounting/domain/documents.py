"""Business documents as they arrive: strict pydantic models, validation, rejections and
content hashes."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from accounting.domain.money import CURRENCY_EXPONENTS
from accounting.domain.values import (
    MAX_ID_LENGTH,
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
    decimal_places,
)

#: Lines of one invoice, credit note or subscription invoice.
MAX_LINES = 5000


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

    def _amount_errors(self) -> list[InitErrorDetails]:
        """Cross-field problems, each reported on its own field."""
        return []

    @model_validator(mode="after")
    def _check_amounts(self) -> Self:
        errors = self._amount_errors()
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    def _places_errors(self, *fields: str) -> list[InitErrorDetails]:
        """Amounts paid or settled cannot be finer than the currency's minor unit."""
        places = CURRENCY_EXPONENTS[self.currency]
        message = f"at most {places} decimal places for {self.currency}"
        return [
            _error(field, getattr(self, field), "currency_places", message)
            for field in fields
            if decimal_places(getattr(self, field)) > places
        ]


def _error(field: str, value: object, kind: str, message: str) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=value)


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    group: Label = "default"
    quantity: PositiveQuantity
    unit_price: UnitPrice
    tax_rate: TaxRate = Decimal(0)
    tax_group: Label = "default"
    description: FreeText | None = None


InvoiceLines = Annotated[list[InvoiceLine], Field(min_length=1, max_length=MAX_LINES)]


class Invoice(_DocumentBase):
    type: Literal["invoice"] = "invoice"
    lines: InvoiceLines


class CreditNote(_DocumentBase):
    type: Literal["credit_note"] = "credit_note"
    lines: InvoiceLines


class SubscriptionInvoice(_DocumentBase):
    """An invoice for a service delivered over ``term_months`` months from ``service_start``:
    its net revenue is deferred and recognised month by month."""

    type: Literal["subscription_invoice"] = "subscription_invoice"
    lines: InvoiceLines
    service_start: IsoDate
    term_months: TermMonths


class Payment(_DocumentBase):
    type: Literal["payment"] = "payment"
    amount: PositiveMoney
    method: Label = "default"

    def _amount_errors(self) -> list[InitErrorDetails]:
        return self._places_errors("amount")


class Refund(_DocumentBase):
    type: Literal["refund"] = "refund"
    amount: PositiveMoney
    method: Label = "default"

    def _amount_errors(self) -> list[InitErrorDetails]:
        return self._places_errors("amount")


class Payout(_DocumentBase):
    type: Literal["payout"] = "payout"
    gross: NonNegativeMoney
    fees: NonNegativeMoney
    net: Money
    group: Label = "default"

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
DOCUMENT_TYPES: tuple[str, ...] = (
    "invoice",
    "credit_note",
    "subscription_invoice",
    "payment",
    "refund",
    "payout",
)
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
    also one per month recognised."""
    if isinstance(document, SubscriptionInvoice):
        return len(document.lines) + document.term_months
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
    """The item's id as reported with its errors: cut short if too long to be an id."""
    if isinstance(item, dict):
        value = item.get("id")
        if isinstance(value, str):
            return value if len(value) <= MAX_ID_LENGTH else value[:MAX_ID_LENGTH] + "…"
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
