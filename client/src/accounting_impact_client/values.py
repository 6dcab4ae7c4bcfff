"""Validated scalar values of documents: money, rates, quantities, ids, labels, currencies and
dates, each with its limits, and the one rule for text Postgres can store."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    StrictInt,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from accounting_impact_client.limits import (
    EARLIEST_DATE,
    LATEST_DATE,
    MAX_DECIMAL_PLACES,
    MAX_DECIMAL_STRING,
    MAX_DESCRIPTION_LENGTH,
    MAX_EXCHANGE_RATE,
    MAX_ID_LENGTH,
    MAX_INTEGER_DIGITS,
    MAX_LABEL_LENGTH,
    MAX_RATE_INTEGER_DIGITS,
    MAX_RATE_PLACES,
    MAX_TERM_MONTHS,
    MAX_UNIT_PRICE_PLACES,
    MIN_EXCHANGE_RATE,
    revision_problem,
)
from accounting_impact_client.money import CURRENCY_EXPONENTS, MONEY_CONTEXT, plain

# --- decimals -------------------------------------------------------------------------------

#: A decimal as a string: ASCII digits, an optional sign and decimal point. No exponent, no
#: digit separators, no spaces, no other script's digits: Decimal alone reads "1e2", "1_000",
#: " 10 " and Arabic-Indic or fullwidth digits as numbers, which no invoice prints.
_DECIMAL_STRING = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


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
    if (
        isinstance(value, str)
        and len(value) <= MAX_DECIMAL_STRING
        and _DECIMAL_STRING.fullmatch(value)
    ):
        return Decimal(value)
    raise PydanticCustomError(
        "decimal_parsing", f'{noun} must be a decimal string of ASCII digits, like "-12.50"'
    )


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
    if value.adjusted() >= MAX_RATE_INTEGER_DIGITS:
        return f"at most {MAX_RATE_INTEGER_DIGITS} integer digits"
    if decimal_places(value) > MAX_RATE_PLACES:
        return f"at most {MAX_RATE_PLACES} decimal places"
    return None


def _rate_places(value: Decimal) -> Decimal:
    problem = rate_digits_problem(value)
    if problem:
        raise PydanticCustomError("decimal_digits", problem)
    return value


def exchange_rate_problem(value: Decimal) -> str | None:
    """Why ``value`` cannot be an exchange rate, if it cannot: see MIN_EXCHANGE_RATE."""
    if not MIN_EXCHANGE_RATE <= value <= MAX_EXCHANGE_RATE:
        return (
            f"must be between {plain(MIN_EXCHANGE_RATE)} and {plain(MAX_EXCHANGE_RATE)} "
            "(functional units per unit of the document's currency)"
        )
    return None


def _sane_rate(value: Decimal) -> Decimal:
    problem = exchange_rate_problem(value)
    if problem:
        raise PydanticCustomError("rate_range", problem)
    return value


def _at_most_six_places(value: Decimal) -> Decimal:
    if decimal_places(value) > MAX_UNIT_PRICE_PLACES:
        message = f"at most {MAX_UNIT_PRICE_PLACES} decimal places"
        raise PydanticCustomError("decimal_max_places", message)
    return value


#: Decimals go out as they must come in: plain digits (str() would write 0.0000001 as 1E-7).
_PLAIN = PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json")
Money = Annotated[Decimal, BeforeValidator(_decimal_parser("money")), _PLAIN]
Quantity = Annotated[Decimal, BeforeValidator(_decimal_parser("quantity")), _PLAIN]
Rate = Annotated[Decimal, BeforeValidator(_decimal_parser("rate")), _PLAIN]


# --- strings --------------------------------------------------------------------------------


#: Unicode categories an id or a label may not hold: control characters, invisible formatting
#: ones (a bidi override or a zero-width space would make two different ids look the same),
#: lone surrogates (not text at all), line and paragraph separators (they break the line of a
#: log or a terminal), private-use characters (they look like whatever a font makes of them)
#: and unassigned code points (a later Unicode may give them a meaning and a normalisation).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"})
INVISIBLE_MESSAGE = "must not contain control, invisible, private-use or unassigned characters"


def has_invisible_characters(value: str) -> bool:
    """Whether ``value`` holds a character of :data:`INVISIBLE_CATEGORIES`."""
    return any(unicodedata.category(char) in INVISIBLE_CATEGORIES for char in value)


def identifier_problem(value: str) -> str | None:
    """Why ``value`` (in NFC) cannot be an id or a label, if it cannot: a character of
    :data:`INVISIBLE_CATEGORIES`, or a compatibility character (a ligature, a fullwidth or a
    superscript form), which would make a second id that looks, or reads, like the first."""
    if has_invisible_characters(value):
        return INVISIBLE_MESSAGE
    if not unicodedata.is_normalized("NFKC", value):
        readable = unicodedata.normalize("NFKC", value)[:MAX_ID_LENGTH]
        return (
            "must not contain compatibility characters (a ligature, a fullwidth or a superscript"
            f" form): write {readable!r}"
        )
    return None


def as_identifier(value: str) -> str:
    """``value`` in NFC: an id typed in NFC and the same id in NFD ("café") are one document."""
    return unicodedata.normalize("NFC", value)


def _identifier(max_length: int) -> Callable[[str], str]:
    """An after-validator of ids and labels: see :func:`identifier_problem`."""

    def check(value: str) -> str:
        value = as_identifier(value)
        problem = identifier_problem(value)
        if problem:
            raise PydanticCustomError("identifier_characters", problem)
        if len(value) > max_length:  # NFC can make a string longer
            raise PydanticCustomError("string_too_long", f"at most {max_length} characters")
        return value

    return check


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
    AfterValidator(_identifier(MAX_ID_LENGTH)),
]
Label = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_LABEL_LENGTH),
    AfterValidator(_identifier(MAX_LABEL_LENGTH)),
]
Currency = Annotated[str, AfterValidator(_known_currency)]


#: The one way a document writes a date. Pydantic alone would read "86400" as a Unix
#: timestamp, and take a time and a time zone and drop them.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: object) -> object:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value  # a Python caller's date
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise PydanticCustomError("date_value", f"not a valid date: {exc}") from None
    raise PydanticCustomError("date_type", "date must be an ISO date string (YYYY-MM-DD)")


def _plausible_revision(value: int) -> int:
    problem = revision_problem(value)
    if problem:
        raise PydanticCustomError("revision_range", problem)
    return value


def _business_date(value: dt.date) -> dt.date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise PydanticCustomError(
            "date_range", f"must be between {EARLIEST_DATE} and {LATEST_DATE}"
        )
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date), AfterValidator(_business_date)]


# --- the value types documents are made of --------------------------------------------------

PositiveMoney = Annotated[Money, AfterValidator(_positive)]
NonNegativeMoney = Annotated[Money, AfterValidator(_not_negative)]
UnitPrice = Annotated[Money, AfterValidator(_not_negative), AfterValidator(_at_most_six_places)]
PositiveQuantity = Annotated[Quantity, AfterValidator(_positive)]
TaxRate = Annotated[Rate, AfterValidator(_not_negative), AfterValidator(_at_most_one)]
#: Units of functional currency per unit of the document's currency.
DocumentRate = Annotated[
    Rate, AfterValidator(_positive), AfterValidator(_rate_places), AfterValidator(_sane_rate)
]
#: A description: tabs and line breaks allowed.
FreeText = Annotated[
    str, StringConstraints(max_length=MAX_DESCRIPTION_LENGTH), AfterValidator(_storable_text)
]
Revision = Annotated[StrictInt, AfterValidator(_plausible_revision)]
TermMonths = Annotated[StrictInt, Field(ge=1, le=MAX_TERM_MONTHS)]
