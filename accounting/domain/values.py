"""Validated scalar values of documents: money, rates, quantities, ids, labels, currencies and
dates, each with its limits, and the one rule for text Postgres can store."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, StringConstraints
from pydantic_core import PydanticCustomError

from accounting.domain.money import CURRENCY_EXPONENTS, MONEY_CONTEXT

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


#: Unicode categories an id or a label may not hold: control characters, invisible formatting
#: ones (a bidi override or a zero-width space would make two different ids look the same)
#: and lone surrogates (not text at all).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def has_invisible_characters(value: str) -> bool:
    """Whether ``value`` holds a control, invisible formatting or surrogate character."""
    return any(unicodedata.category(char) in INVISIBLE_CATEGORIES for char in value)


def _no_control_characters(value: str) -> str:
    """Ids and labels: see :data:`INVISIBLE_CATEGORIES`."""
    if has_invisible_characters(value):
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


# --- the value types documents are made of --------------------------------------------------

PositiveMoney = Annotated[Money, AfterValidator(_positive)]
NonNegativeMoney = Annotated[Money, AfterValidator(_not_negative)]
UnitPrice = Annotated[Money, AfterValidator(_not_negative), AfterValidator(_at_most_six_places)]
PositiveQuantity = Annotated[Quantity, AfterValidator(_positive)]
TaxRate = Annotated[Rate, AfterValidator(_not_negative), AfterValidator(_at_most_one)]
#: Units of functional currency per unit of the document's currency.
DocumentRate = Annotated[Rate, AfterValidator(_positive), AfterValidator(_rate_places)]
#: A description: tabs and line breaks allowed.
FreeText = Annotated[str, StringConstraints(max_length=500), AfterValidator(_storable_text)]
Revision = Annotated[StrictInt, Field(ge=0, le=MAX_REVISION)]
TermMonths = Annotated[StrictInt, Field(ge=1, le=MAX_TERM_MONTHS)]
