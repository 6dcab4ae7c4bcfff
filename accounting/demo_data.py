"""A demo organization (chart of accounts, posting matrix, rates) and a realistic document mix;
``seed_organization`` sets one up (the demo, the benches, the chaos run and the tests)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from accounting.domain.matrix import PostingMatrix, Rule
from accounting.services.books import RateInput, set_exchange_rates
from accounting.services.matrices import publish_matrix
from accounting.services.organizations import create_organization
from accounting.store.uow import UnitOfWork

ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("1000", "Bank", "asset"),
    ("1100", "Accounts receivable", "asset"),
    ("1200", "PSP clearing", "asset"),
    ("2200", "VAT payable", "liability"),
    ("2400", "Deferred revenue", "liability"),
    ("4000", "Revenue: products", "revenue"),
    ("4010", "Revenue: services", "revenue"),
    ("4020", "Revenue: subscriptions", "revenue"),
    ("4900", "Sales returns", "revenue"),
    ("6100", "Payment fees", "expense"),
    ("6990", "Currency rounding", "expense"),
)
ROUNDING_ACCOUNT = "6990"

_RULES: dict[tuple[str, str, str], tuple[str, str]] = {
    ("invoice", "net", "*"): ("1100", "4000"),
    ("invoice", "net", "services"): ("1100", "4010"),
    ("invoice", "tax", "*"): ("1100", "2200"),
    ("credit_note", "net", "*"): ("4900", "1100"),
    ("credit_note", "tax", "*"): ("2200", "1100"),
    ("subscription_invoice", "net", "*"): ("1100", "2400"),
    ("subscription_invoice", "tax", "*"): ("1100", "2200"),
    ("subscription_invoice", "recognition", "*"): ("2400", "4020"),
    ("payment", "gross", "*"): ("1200", "1100"),
    ("refund", "gross", "*"): ("1100", "1200"),
    ("payout", "net", "*"): ("1000", "1200"),
    ("payout", "fee", "*"): ("6100", "1200"),
}


def matrix(org_id: str) -> PostingMatrix:
    rules = {key: Rule(debit=d, credit=c) for key, (d, c) in _RULES.items()}
    return PostingMatrix(org_id=org_id, version=0, rules=rules)


#: Monthly USD rates (units of EUR per USD) the demo organization is given.
USD_RATES: tuple[tuple[date, Decimal], ...] = tuple(
    (date(2026, month, 1), Decimal("0.9") + Decimal(month) / 200) for month in range(1, 13)
)


def seed_organization(
    units: Callable[[], UnitOfWork],
    org_id: str,
    *,
    name: str | None = None,
    rates: bool = False,
) -> int:
    """Create ``org_id`` (EUR) with the demo chart and rounding account, optionally the demo's
    USD rates, and publish the demo matrix; returns its version."""
    create_organization(
        units(), org_id, name or org_id, "EUR", ACCOUNTS, rounding_account=ROUNDING_ACCOUNT
    )
    if rates:
        usd = [RateInput("USD", day, rate, "demo") for day, rate in USD_RATES]
        set_exchange_rates(units(), org_id, usd)
    return publish_matrix(units(), org_id, matrix(org_id))


def documents(
    count: int, *, seed: int = 7, prefix: str = "doc", full_books: bool = False
) -> Iterator[dict[str, Any]]:
    """``count`` JSON documents: mostly invoices of 1-20 lines, then payments, refunds, payouts
    and credit notes; each payout pays out what the payments before it brought into the PSP
    clearing account. With ``full_books``, also yearly subscriptions and some documents in
    USD (posted at the organization's :data:`USD_RATES`). Deterministic for a given seed."""
    rng = random.Random(seed)
    start = date(2026, 1, 1)
    kinds = ["invoice", "payment", "refund", "credit_note", "payout"]
    weights = [60, 25, 5, 5, 5]
    if full_books:
        kinds, weights = [*kinds, "subscription_invoice"], [*weights, 5]
    clearing = Decimal(0)
    for n in range(count):
        kind = rng.choices(kinds, weights)[0]
        if kind == "payout" and clearing <= 0:
            kind = "payment"
        day = start + timedelta(days=rng.randrange(300))
        base: dict[str, Any] = {
            "id": document_id(prefix, n),
            "type": kind,
            "date": day.isoformat(),
            "currency": "USD" if full_books and rng.random() < 0.1 else "EUR",
        }
        body = _payout(clearing) if kind == "payout" else _body(kind, rng, day)
        if kind == "payout":
            base["currency"] = "EUR"
            clearing = Decimal(0)
        elif kind in ("payment", "refund") and base["currency"] == "EUR":
            clearing += Decimal(body["amount"]) * (1 if kind == "payment" else -1)
        yield base | body


def document_id(prefix: str, n: int) -> str:
    return f"{prefix}-{n:07d}"


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def _payout(gross: Decimal) -> dict[str, Any]:
    fees = (gross * Decimal("0.014")).quantize(Decimal("0.01"))
    return {"gross": str(gross), "fees": str(fees), "net": str(gross - fees)}


def _body(kind: str, rng: random.Random, day: date) -> dict[str, Any]:
    if kind in ("invoice", "credit_note", "subscription_invoice"):
        lines = [
            {
                "group": rng.choice(("products", "products", "services")),
                "quantity": str(rng.randrange(1, 5)),
                "unit_price": str(_money(rng, 1, 500)),
                "tax_rate": rng.choice(("0.19", "0.07", "0")),
            }
            for _ in range(rng.randrange(1, 21) if kind == "invoice" else rng.randrange(1, 4))
        ]
        if kind == "subscription_invoice":
            return {"lines": lines, "service_start": day.isoformat(), "term_months": 12}
        return {"lines": lines}
    return {"amount": str(_money(rng, 5, 2000)), "method": rng.choice(("card", "paypal"))}
