"""Every limit on what a caller may send, named and explained in one place, and the check of a
whole call a producer (the HTTP API, an application) can run before it sends one.

The workers enforce each limit where it applies (see the README, "Bad input and tenants");
nothing here needs the database."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from accounting_impact_client.errors import CallTooLarge, TooManyDocuments
from accounting_impact_client.money import MONEY_CONTEXT, plain

# --- identifiers and text -------------------------------------------------------------------

#: Characters of a document id (and of the ids a task takes: organization, document ids).
MAX_ID_LENGTH = 128
#: Characters of a label: a line's group or tax group, a payment method, a payout's group.
MAX_LABEL_LENGTH = 64
#: Characters of a line's description.
MAX_DESCRIPTION_LENGTH = 500
#: Characters of a recreate's ``requested_by`` (longer is cut, not refused: it is informational).
MAX_REQUESTED_BY_LENGTH = 200

# --- numbers --------------------------------------------------------------------------------

#: Integer digits of an amount, quantity or rate as sent.
MAX_INTEGER_DIGITS = 18
#: Decimal places of an amount, quantity or rate as sent (a unit price: 6; paid amounts: the
#: currency's minor unit; an exchange rate: MAX_RATE_PLACES).
MAX_DECIMAL_PLACES = 18
#: Characters of a decimal string: longer than any number the digit limits allow, so Decimal
#: never parses megabytes.
MAX_DECIMAL_STRING = 64
#: Integer digits of an amount computed from a document (a line's net, the document's total, its
#: functional value): what a money column, NUMERIC(28, 8), stores.
MAX_AMOUNT_INTEGER_DIGITS = 20
#: The largest amount a document may add up to, in its currency or in the functional one.
MAX_AMOUNT = Decimal(10) ** MAX_AMOUNT_INTEGER_DIGITS - 1
#: Decimal places of a unit price (finer than a currency's minor unit: a price per gram).
MAX_UNIT_PRICE_PLACES = 6
#: Exchange rates are stored as NUMERIC(28, 12): 16 integer digits and 12 decimal places; a
#: finer rate would not be the rate used.
MAX_RATE_INTEGER_DIGITS = 16
MAX_RATE_PLACES = 12
#: A document's own exchange rate (functional units per unit of its currency) lies in this
#: range. No two ISO 4217 currencies are that far apart (the widest pair in use, the Kuwaiti
#: dinar and the Iranian rial, is about 3 x 10^6 apart): a rate beyond it is a typo or a unit
#: mistake, and 1e-12 booked 119 USD as 0 EUR.
MIN_EXCHANGE_RATE = Decimal("0.000000001")
MAX_EXCHANGE_RATE = Decimal(1_000_000_000)
#: A document that posts something must be worth at least this much in the functional currency
#: at its own exchange rate: below it, it rounds to zero in every currency (the finest minor
#: unit, of a currency with 4 decimal places, is 0.0001).
MIN_FUNCTIONAL_TOTAL = Decimal("0.00005")

#: A document's revision: a row version or ``updated_at`` in milliseconds (which reaches 10^15
#: in the year 33658). Microseconds or nanoseconds are above it: a revision stored that high
#: would make every later change of the document ``stale`` (the review froze one with 2^63-1).
MAX_REVISION = 10**15

# --- dates ----------------------------------------------------------------------------------

#: Business dates: a year outside these is a typo (0026 for 2026), and a date near 9999 would
#: overflow when posting moves past a closed month or recognises a subscription's months.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)

# --- the size of a document -----------------------------------------------------------------

#: Lines of one invoice, credit note or subscription invoice: more than a real invoice needs.
MAX_LINES_PER_DOCUMENT = 1_000
#: Months a subscription invoice's revenue is recognised over.
MAX_TERM_MONTHS = 120
#: Monthly recognition amounts of one subscription invoice: its distinct line groups times its
#: term_months. Each is stored with the document and posted as a line.
MAX_SCHEDULE_AMOUNTS = 10_000

# --- the size of a call ---------------------------------------------------------------------

#: Documents in one ``accounting.upsert_documents`` call: the default of the workers'
#: ACCOUNTING_MAX_DOCUMENTS_PER_CALL (which is what they enforce).
MAX_DOCUMENTS_PER_CALL = 5_000
#: Invoice lines, all documents of one ``accounting.upsert_documents`` call together.
MAX_LINES_PER_CALL = 50_000
#: Document ids in one ``accounting.recreate`` call (and one HTTP recreate).
MAX_IDS_PER_RECREATE = 5_000
#: Bytes of a task message's body: its arguments as Celery's JSON serializer writes them
#: (``[args, kwargs, embed]``, ASCII). A worker refuses a bigger one before decoding it.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024

# --- a document's size and what it adds up to --------------------------------------------------


def revision_problem(revision: int) -> str | None:
    """Why ``revision`` cannot be a document's, if it cannot."""
    if not 0 <= revision <= MAX_REVISION:
        return (
            "must be a whole number from 0 to 10^15 (a row version, or updated_at in "
            "milliseconds); a larger one would make every later change of the document stale"
        )
    return None


def lines_problem(lines: int) -> str | None:
    """Why a document of ``lines`` lines is refused, if it is."""
    if lines > MAX_LINES_PER_DOCUMENT:
        return f"{lines:,} lines; at most {MAX_LINES_PER_DOCUMENT:,} per document"
    return None


def schedule_problem(groups: int, months: int) -> str | None:
    """Why a subscription of ``groups`` line groups over ``months`` is refused, if it is."""
    if groups * months > MAX_SCHEDULE_AMOUNTS:
        return (
            f"{groups:,} line groups x {months} months = {groups * months:,} monthly "
            f"recognition amounts; at most {MAX_SCHEDULE_AMOUNTS:,} per document"
        )
    return None


TOO_LARGE = f"beyond the {MAX_AMOUNT_INTEGER_DIGITS} integer digits an amount can have"


def line_net_problem(net: Decimal, currency: str) -> str | None:
    """Why a line cannot have this net (its quantity x unit price), if it cannot."""
    if net > MAX_AMOUNT:
        return f"quantity x unit_price is {plain(net)} {currency}: {TOO_LARGE}"
    return None


def total_problem(total: Decimal, currency: str) -> str | None:
    """Why a document cannot post ``total`` (all its amounts, counted as positive, in its
    ``currency``), if it cannot: it is zero (nothing to post, and a journal line is never
    zero), or beyond what a money column stores."""
    if total == 0:
        return (
            f"every amount of the document is zero in {currency} (once rounded to its minor "
            "unit): there is nothing to post"
        )
    if total > MAX_AMOUNT:
        return f"the document's amounts add up to {plain(total)} {currency}: {TOO_LARGE}"
    return None


def functional_problem(total: Decimal, currency: str, rate: Decimal | None) -> str | None:
    """Why ``total`` cannot be posted at the document's own exchange ``rate``, if it cannot:
    its functional value is beyond a money column, or would be booked as zero."""
    if rate is None:
        return None
    functional = MONEY_CONTEXT.multiply(total, rate)
    at_rate = f"at this rate, the document's {plain(total)} {currency} are"
    if functional > MAX_AMOUNT:
        return f"{at_rate} {plain(functional)} in the functional currency: {TOO_LARGE}"
    if functional < MIN_FUNCTIONAL_TOTAL:
        return (
            f"{at_rate} worth {plain(functional)} in the functional currency: they would be "
            "booked as zero"
        )
    return None


#: What Celery adds to every task message's body besides the arguments.
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def lines_in(documents: Sequence[object]) -> int:
    """The invoice lines of a call's documents, as sent (before any is validated)."""
    return sum(
        len(document["lines"])
        for document in documents
        if isinstance(document, dict) and isinstance(document.get("lines"), list)
    )


def check_documents_call(
    documents: Sequence[object], *, max_documents: int = MAX_DOCUMENTS_PER_CALL
) -> None:
    """Refuse a call of too many documents, or of too many lines in all."""
    if len(documents) > max_documents:
        raise TooManyDocuments(
            f"{len(documents):,} documents in one call; at most {max_documents:,} "
            "(ACCOUNTING_MAX_DOCUMENTS_PER_CALL): split the call"
        )
    lines = lines_in(documents)
    if lines > MAX_LINES_PER_CALL:
        raise CallTooLarge(
            f"{lines:,} invoice lines in one call; at most {MAX_LINES_PER_CALL:,}: split the call"
        )


def message_bytes(args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """The size of a task message's body with these arguments, as the worker receives it."""
    return len(json.dumps([list(args), dict(kwargs), _EMBED], default=str))


def check_message_size(task: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """The body's size in bytes; CallTooLarge if it is beyond MAX_MESSAGE_BYTES."""
    size = message_bytes(args, kwargs)
    if size > MAX_MESSAGE_BYTES:
        raise CallTooLarge(
            f"{task}: a message of {size:,} bytes; at most {MAX_MESSAGE_BYTES:,}: split the call"
        )
    return size


def check_upsert_call(
    org_id: str,
    documents: Sequence[object],
    kwargs: Mapping[str, Any] | None = None,
    *,
    max_documents: int = MAX_DOCUMENTS_PER_CALL,
) -> int:
    """Check an ``accounting.upsert_documents(org_id, documents, **kwargs)`` call before it is
    sent: documents, lines and message bytes. Returns the message's size in bytes. (Each
    document is still validated by the worker, and rejected on its own.)"""
    check_documents_call(documents, max_documents=max_documents)
    return check_message_size("accounting.upsert_documents", [org_id, documents], kwargs or {})


def check_recreate_call(
    org_id: str, document_ids: Sequence[object], kwargs: Mapping[str, Any] | None = None
) -> int:
    """Check an ``accounting.recreate(org_id, document_ids, **kwargs)`` call before it is sent.
    Returns the message's size in bytes."""
    check_recreate_size(len(document_ids))
    return check_message_size("accounting.recreate", [org_id, document_ids], kwargs or {})


def check_recreate_size(ids: int) -> None:
    """Refuse a recreate of more than MAX_IDS_PER_RECREATE ids."""
    if ids > MAX_IDS_PER_RECREATE:
        raise CallTooLarge(
            f"document_ids: {ids:,} ids in one recreate; at most {MAX_IDS_PER_RECREATE:,}: "
            "split the call"
        )
