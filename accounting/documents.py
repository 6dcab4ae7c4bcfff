"""Business documents as they arrive: strict pydantic models, validation and content hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from accounting.errors import FieldError
from accounting.money import CURRENCY_EXPONENTS, MONEY_CONTEXT

MAX_INTEGER_DIGITS = 18
MAX_DECIMAL_PLACES = 18
MAX_TERM_MONTHS = 120
MAX_ID_LENGTH = 128
MAX_REVISION = 2**63 - 1  # a Postgres bigint
# Business dates: a year outside these is a typo (0026 for 2026), and a date near 9999 would
# overflow when posting moves past a closed month or recognises a subscription's months.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)
# Exchange rates are stored with 12 decimal places: a finer rate would not be the rate used.
MAX_RATE_PLACES = 12
# Longer than any number the digit limits allow; refuse before Decimal parses megabytes.
_MAX_DECIMAL_STRING = 64


# --- decimals -------------------------------------------------------------------------------


def _decimal_parser(noun: str) -> Callable[[object], Decimal]:
    """A before-validator that turns a decimal string or int into a canonical Decimal."""

    def parse(value: object) -> Decimal:
        return _canonical(_to_decimal(value, noun))

    return parse


def _to_decimal(value: object, noun: str) -> Decimal:
    # bool is an int and float is binary: both would be silently wrong money.
    if isinstance(value, bool):
        raise PydanticCustomError("decimal_type", f"{noun} must be a decimal string, not a boolean")
    if isinstance(value, float):
        raise PydanticCustomError("decimal_type", f"{noun} must be a decimal string, not a float")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, str) and len(value) <= _MAX_DECIMAL_STRING:
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            pass
    raise PydanticCustomError("decimal_parsing", f"{noun} must be a decimal string")


def _canonical(value: Decimal) -> Decimal:
    """Check the digit limits and drop trailing zeros, so equal amounts hash equally."""
    if not value.is_finite():
        raise PydanticCustomError("finite_number", "must be finite")
    if value.is_zero():
        return Decimal(0)
    if value.adjusted() + 1 > MAX_INTEGER_DIGITS:
        raise PydanticCustomError(
            "decimal_max_digits", f"at most {MAX_INTEGER_DIGITS} integer digits"
        )
    value = value.normalize(MONEY_CONTEXT)
    if decimal_places(value) > MAX_DECIMAL_PLACES:
        raise PydanticCustomError(
            "decimal_max_places", f"at most {MAX_DECIMAL_PLACES} decimal places"
        )
    # normalize() writes 100 as 1E+2; keep plain notation in JSON dumps.
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value  # type: ignore[operator]


def decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise PydanticCustomError("positive", "must be positive")
    return value


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise PydanticCustomError("not_negative", "must not be negative")
    return value


def _at_most_one(value: Decimal) -> Decimal:
    if value > 1:
        raise PydanticCustomError("rate_range", "must be between 0 and 1")
    return value


def rate_digits_problem(value: Decimal) -> str | None:
    """Why a rate would not survive storage (NUMERIC(28, 12)) unchanged, if it would not."""
    if value.adjusted() >= 16:
        return "at most 16 integer digits"
    if decimal_places(value) > MAX_RATE_PLACES:
        return f"at most {MAX_RATE_PLACES} decimal places"
    return None


def _rate_places(value: Decimal) -> Decimal:
    problem = rate_digits_problem(value)
    if problem:
        raise PydanticCustomError("decimal_digits", problem)
    return value


def _at_most_six_places(value: Decimal) -> Decimal:
    if decimal_places(value) > 6:
        raise PydanticCustomError("decimal_max_places", "at most 6 decimal places")
    return value


Money = Annotated[Decimal, BeforeValidator(_decimal_parser("money"))]
Quantity = Annotated[Decimal, BeforeValidator(_decimal_parser("quantity"))]
Rate = Annotated[Decimal, BeforeValidator(_decimal_parser("rate"))]


# --- strings --------------------------------------------------------------------------------


def _no_control_characters(value: str) -> str:
    """Ids and labels: no control characters, nor invisible formatting ones (a bidi override
    or a zero-width space would make two different ids look the same)."""
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in value):
        raise PydanticCustomError(
            "control_characters", "must not contain control or invisible formatting characters"
        )
    return value


def _storable_text(value: str) -> str:
    """Free text: tabs and line breaks are fine; other control characters (NUL, which Postgres
    cannot store, among them) are not."""
    if any(unicodedata.category(char) == "Cc" and char not in "\t\n\r" for char in value):
        raise PydanticCustomError(
            "control_characters", "must not contain control characters other than tab and newline"
        )
    return value


def storable(value: str) -> bool:
    """Whether Postgres text can hold ``value``: no NUL, and valid Unicode (no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def _known_currency(value: str) -> str:
    if value not in CURRENCY_EXPONENTS:
        raise PydanticCustomError("unknown_currency", f"unknown currency {value[:16]!r}")
    return value


DocumentId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH),
    AfterValidator(_no_control_characters),
]
Label = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_control_characters)
]
Currency = Annotated[str, AfterValidator(_known_currency)]


def _not_a_number(value: object) -> object:
    # Pydantic would read a number as a Unix timestamp; documents carry ISO dates.
    if isinstance(value, int | float):
        raise PydanticCustomError("date_type", "date must be an ISO date string (YYYY-MM-DD)")
    return value


def _business_date(value: dt.date) -> dt.date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise PydanticCustomError(
            "date_range", f"must be between {EARLIEST_DATE} and {LATEST_DATE}"
        )
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_not_a_number), AfterValidator(_business_date)]


# --- documents ------------------------------------------------------------------------------


class _DocumentBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: DocumentId
    #: The application's own revision of this document (a row version, or its updated_at in
    #: milliseconds). Optional; when given, a document arriving with a lower revision than the
    #: one stored is ignored, so a message delivered late cannot undo a newer one.
    revision: Annotated[StrictInt, Field(ge=0, le=MAX_REVISION)] | None = None
    date: IsoDate
    currency: Currency
    exchange_rate: (
        Annotated[Rate, AfterValidator(_positive), AfterValidator(_rate_places)] | None
    ) = None

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
    quantity: Annotated[Quantity, AfterValidator(_positive)]
    unit_price: Annotated[Money, AfterValidator(_not_negative), AfterValidator(_at_most_six_places)]
    tax_rate: Annotated[Rate, AfterValidator(_not_negative), AfterValidator(_at_most_one)] = (
        Decimal(0)
    )
    tax_group: Label = "default"
    description: (
        Annotated[str, StringConstraints(max_length=500), AfterValidator(_storable_text)] | None
    ) = None


InvoiceLines = Annotated[list[InvoiceLine], Field(min_length=1, max_length=5000)]


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
    term_months: Annotated[StrictInt, Field(ge=1, le=MAX_TERM_MONTHS)]


class Payment(_DocumentBase):
    type: Literal["payment"] = "payment"
    amount: Annotated[Money, AfterValidator(_positive)]
    method: Label = "default"

    def _amount_errors(self) -> list[InitErrorDetails]:
        return self._places_errors("amount")


class Refund(_DocumentBase):
    type: Literal["refund"] = "refund"
    amount: Annotated[Money, AfterValidator(_positive)]
    method: Label = "default"

    def _amount_errors(self) -> list[InitErrorDetails]:
        return self._places_errors("amount")


class Payout(_DocumentBase):
    type: Literal["payout"] = "payout"
    gross: Annotated[Money, AfterValidator(_not_negative)]
    fees: Annotated[Money, AfterValidator(_not_negative)]
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


def validate_documents(raw: Sequence[object]) -> tuple[list[Document], list[FieldError]]:
    """Validate each item on its own: good documents are kept even when others fail. An id that
    appears more than once in the call is rejected in every copy: which copy the caller meant
    is not ours to guess."""
    documents: list[Document] = []
    errors: list[FieldError] = []
    copies = Counter(_raw_id(item) for item in raw)
    for item in raw:
        document_id = _raw_id(item)
        if document_id is not None and copies[document_id] > 1:
            message = f"document id appears {copies[document_id]} times in this call"
            errors.append(FieldError(document_id, "id", message))
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


def _validate_one(
    item: object, document_id: str | None
) -> tuple[Document | None, list[FieldError]]:
    if not isinstance(item, dict):
        return None, [FieldError(None, "document", "document must be a JSON object")]
    try:
        return _DOCUMENT_ADAPTER.validate_python(item), []
    except ValidationError as exc:
        tag = item.get("type")
        return None, [_field_error(document_id, error, tag) for error in exc.errors()]


def _field_error(document_id: str | None, error: ErrorDetails, tag: Any) -> FieldError:
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return FieldError(document_id, "type", _type_message(tag))
    loc = error["loc"]
    # Pydantic prefixes the discriminator tag ("invoice") to every path; callers never wrote it.
    if loc and loc[0] == tag:
        loc = loc[1:]
    return FieldError(document_id, ".".join(str(part) for part in loc) or "document", error["msg"])


def _type_message(tag: object) -> str:
    expected = ", ".join(DOCUMENT_TYPES)
    if tag is None:
        return f"missing document type; expected one of: {expected}"
    if not isinstance(tag, str):
        return f"document type must be a string; expected one of: {expected}"
    return f"unknown document type {tag[:64]!r}; expected one of: {expected}"
