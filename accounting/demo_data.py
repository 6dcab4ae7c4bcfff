"""A demo organization (chart of accounts, posting matrix) and a realistic document mix."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from accounting.matrix import PostingMatrix, Rule

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


def documents(count: int, *, seed: int = 7, prefix: str = "doc") -> Iterator[dict[str, Any]]:
    """``count`` JSON documents: mostly invoices of 1-20 lines, then payments, refunds, payouts
    and credit notes. Deterministic for a given seed."""
    rng = random.Random(seed)
    start = date(2026, 1, 1)
    for n in range(count):
        kind = rng.choices(
            ("invoice", "payment", "refund", "credit_note", "payout"), (60, 25, 5, 5, 5)
        )[0]
        base: dict[str, Any] = {
            "id": f"{prefix}-{n:07d}",
            "type": kind,
            "date": (start + timedelta(days=rng.randrange(300))).isoformat(),
            "currency": "EUR",
        }
        yield base | _body(kind, rng)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def _body(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind in ("invoice", "credit_note"):
        lines = [
            {
                "group": rng.choice(("products", "products", "services")),
                "quantity": str(rng.randrange(1, 5)),
                "unit_price": str(_money(rng, 1, 500)),
                "tax_rate": rng.choice(("0.19", "0.07", "0")),
            }
            for _ in range(rng.randrange(1, 21) if kind == "invoice" else rng.randrange(1, 4))
        ]
        return {"lines": lines}
    if kind == "payout":
        gross = _money(rng, 100, 5000)
        fees = (gross * Decimal("0.014")).quantize(Decimal("0.01"))
        return {"gross": str(gross), "fees": str(fees), "net": str(gross - fees)}
    return {"amount": str(_money(rng, 5, 2000)), "method": rng.choice(("card", "paypal"))}
