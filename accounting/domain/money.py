"""Money arithmetic: ISO 4217 minor units and rounding (the contract's, see
accounting_impact_client.money) and exact proportional splitting."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from accounting_impact_client.money import (
    CURRENCY_EXPONENTS,
    MONEY_CONTEXT,
    exponent,
    minor_unit,
    plain,
    quantize,
)

__all__ = [
    "CURRENCY_EXPONENTS",
    "MONEY_CONTEXT",
    "exponent",
    "minor_unit",
    "plain",
    "quantize",
    "split",
]


def split(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Allocate total over weights by largest remainder; the parts sum exactly to total."""
    _check_weights(weights)
    places = exponent(currency)
    units = total.scaleb(places, context=MONEY_CONTEXT)
    if not units.is_finite() or units != units.to_integral_value():
        raise ValueError(f"{total} is not a whole number of {currency} minor units")
    sign = -1 if units < 0 else 1
    parts = _largest_remainder(abs(int(units)), [Fraction(w) for w in weights])
    return [Decimal(sign * part).scaleb(-places, context=MONEY_CONTEXT) for part in parts]


def _check_weights(weights: Sequence[Decimal]) -> None:
    if not weights:
        raise ValueError("split needs at least one weight")
    if any(not w.is_finite() or w < 0 for w in weights):
        raise ValueError("weights must be finite and non-negative")
    if not any(w > 0 for w in weights):
        raise ValueError("at least one weight must be positive")


def _largest_remainder(units: int, weights: list[Fraction]) -> list[int]:
    # Exact rational shares, so the result never depends on Decimal context precision.
    whole = sum(weights, Fraction(0))
    shares = [units * w / whole for w in weights]
    parts = [int(share) for share in shares]
    leftover = units - sum(parts)
    # Biggest fractional part first; sorted() is stable, so ties go to the lowest index.
    by_remainder = sorted(range(len(shares)), key=lambda i: shares[i] - parts[i], reverse=True)
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return parts
