"""The books as Beancount text (pure: rows in, text out), so an independent tool can check them.

Mapping:

- An account is ``<root>:<component>``: the root from its kind (asset ``Assets``, liability
  ``Liabilities``, equity ``Equity``, revenue ``Income``, expense ``Expenses``), the component
  from its code (see :func:`account_component`); its name and code go in the ``open``
  directive's metadata.
- One transaction per journal entry, with the entry's identity as metadata.
- A line in the functional currency is a plain amount. A foreign-currency line is its amount
  in its currency at a total price of its functional amount (``100.00 USD @@ 91.23 EUR``), so
  Beancount weighs it at the functional amount and balances every entry in the functional
  currency. A rounding line (``amount = 0``) is its functional amount.
- So an account holds, in Beancount's terms, the units of each foreign currency its lines were
  in, plus the functional amounts of its functional-currency and rounding lines. Balance
  assertions of exactly those holdings (computed by our own SQL) let ``bean-check`` verify
  that the exported transactions add up to what the database says.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal, localcontext

from accounting.domain.money import MONEY_CONTEXT
from accounting.domain.report_rows import Account, Holding, LedgerLine, decimal_text
from accounting.errors import InconsistentJournalLine

ROOTS: Mapping[str, str] = {
    "asset": "Assets",
    "liability": "Liabilities",
    "equity": "Equity",
    "revenue": "Income",
    "expense": "Expenses",
}
#: The counterpart of a period export's opening balances. No encoded code can be spelled like
#: this: a ``-`` in an encoded code is always followed by two upper-case hexadecimal digits.
OPENING_BALANCES = "Equity:Opening-Balances"

_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_STARTS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ACCOUNT_WIDTH = 40
_NUMBER_WIDTH = 16


def account_component(code: str) -> str:
    """A Beancount account component that spells ``code`` recognisably and is different for
    every different code: ASCII letters and digits stay as they are; every other byte of the
    code's UTF-8 (``-`` included) becomes ``-`` and two upper-case hex digits (``1000-01`` ->
    ``1000-2D01``, ``rev.eu`` -> ``X-rev-2Eeu``); a component that would not start with an
    upper-case letter or a digit is prefixed with ``X-`` (``X-`` then a lower-case letter or a
    ``-`` cannot come out of the encoding, so the prefix cannot collide either)."""
    encoded = "".join(
        chr(byte) if chr(byte) in _PLAIN else f"-{byte:02X}" for byte in code.encode("utf-8")
    )
    return encoded if encoded[:1] in _STARTS else f"X-{encoded}"


def account_name(kind: str, code: str) -> str:
    return f"{ROOTS[kind]}:{account_component(code)}"


def quoted(text: str) -> str:
    """A Beancount string literal (document ids may hold quotes and backslashes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def header(title: str, functional_currency: str, comment: str) -> str:
    return (
        f"; {comment}\n"
        f"option {quoted('title')} {quoted(title)}\n"
        f"option {quoted('operating_currency')} {quoted(functional_currency)}\n\n"
    )


def open_directives(accounts: Iterable[Account]) -> str:
    """An ``open`` for each account, on the first date it is used."""
    return "".join(
        f"{account.first_used} open {account_name(account.kind, account.code)}\n"
        f"  name: {quoted(account.name)}\n"
        f"  code: {quoted(account.code)}\n"
        for account in accounts
    ) + ("\n" if accounts else "")


def opening_transaction(
    holdings: Sequence[Holding], kinds: Mapping[str, str], on: date, label: str
) -> str:
    """The holdings before a period as one transaction, each currency balanced against
    :data:`OPENING_BALANCES` (holdings carry no price, so no conversion is needed)."""
    held = [h for h in holdings if h.amount != 0]
    if not held:
        return ""
    per_currency: dict[str, Decimal] = defaultdict(Decimal)
    postings = []
    with localcontext(MONEY_CONTEXT):
        for h in held:
            account = account_name(kinds[h.account_code], h.account_code)
            postings.append(_posting(account, h.amount, h.currency))
            per_currency[h.currency] += h.amount
    postings += [
        _posting(OPENING_BALANCES, -total, currency)
        for currency, total in sorted(per_currency.items())
        if total != 0
    ]
    narration = quoted(f"Opening balances before {label}")
    return f"{on} * {narration}\n" + "".join(postings) + "\n"


def opening_open_directive(on: date) -> str:
    return f"{on} open {OPENING_BALANCES}\n\n"


def transaction(lines: Sequence[LedgerLine], functional_currency: str) -> str:
    """One journal entry (its lines, in order) as a transaction."""
    entry = lines[0]
    narration = quoted(
        f"{entry.document_type} {entry.document_id} version {entry.document_version}"
    )
    meta = [
        f"  entry_id: {entry.entry_id}\n",
        f"  document_id: {quoted(entry.document_id)}\n",
        f"  document_type: {quoted(entry.document_type)}\n",
        f"  document_version: {entry.document_version}\n",
        f"  matrix_version: {entry.matrix_version}\n",
        f"  status: {quoted(entry.status)}\n",
    ]
    if entry.reverses_id is not None:
        meta.append(f"  reverses_id: {entry.reverses_id}\n")
    postings = [posting(line, functional_currency) for line in lines]
    return f"{entry.entry_date} * {narration}\n" + "".join(meta + postings) + "\n"


def posting(line: LedgerLine, functional_currency: str) -> str:
    account = account_name(line.account_kind, line.account_code)
    if line.amount == 0:  # a rounding line exists only in functional terms
        return _posting(account, line.functional_amount, functional_currency)
    if line.currency == functional_currency:
        if line.amount != line.functional_amount:
            raise _inconsistent(line, "is in the functional currency but its amounts differ")
        return _posting(account, line.amount, functional_currency)
    if line.functional_amount * line.amount < 0:
        # Beancount takes the sign of a total price from the units: this cannot be written,
        # and no rate turns an amount into one of the opposite sign.
        raise _inconsistent(line, "has a functional amount of the opposite sign")
    price = decimal_text(abs(line.functional_amount), functional_currency)
    return _posting(account, line.amount, line.currency, f" @@ {price} {functional_currency}")


def balance_assertions(holdings: Iterable[Holding], kinds: Mapping[str, str], on: date) -> str:
    """Assert each holding at the start of ``on``, exactly (``~ 0``: Beancount would otherwise
    tolerate a difference of one minor unit)."""
    return "".join(
        f"{on} balance {account_name(kinds[h.account_code], h.account_code):<{_ACCOUNT_WIDTH}}"
        f" {decimal_text(h.amount, h.currency):>{_NUMBER_WIDTH}} ~ 0 {h.currency}\n"
        for h in holdings
    )


def _posting(account: str, amount: Decimal, currency: str, price: str = "") -> str:
    number = decimal_text(amount, currency)
    return f"  {account:<{_ACCOUNT_WIDTH}} {number:>{_NUMBER_WIDTH}} {currency}{price}\n"


def _inconsistent(line: LedgerLine, why: str) -> InconsistentJournalLine:
    return InconsistentJournalLine(
        f"journal line {line.line_id} of entry {line.entry_id} (document "
        f"{line.document_id!r}, account {line.account_code!r}) {why}: amount {line.amount} "
        f"{line.currency}, functional amount {line.functional_amount}"
    )
