"""Money: currency exponents, rounding and largest-remainder splitting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounting.domain.money import CURRENCY_EXPONENTS, exponent, quantize, split
from accounting.errors import UnknownCurrency


def test_exponents_follow_iso_4217_minor_units() -> None:
    assert exponent("EUR") == 2
    assert exponent("JPY") == 0
    assert exponent("KWD") == 3
    assert exponent("CLF") == 4
    assert all(len(code) == 3 and code.isupper() for code in CURRENCY_EXPONENTS)


def test_unknown_currency_is_rejected_by_name() -> None:
    with pytest.raises(UnknownCurrency, match="'XYZ'"):
        exponent("XYZ")


def test_quantize_rounds_halves_away_from_zero() -> None:
    assert quantize(Decimal("1.005"), "EUR") == Decimal("1.01")
    assert quantize(Decimal("-1.005"), "EUR") == Decimal("-1.01")
    assert quantize(Decimal("2.5"), "JPY") == Decimal("3")
    assert str(quantize(Decimal("1"), "BHD")) == "1.000"


def test_quantize_keeps_digits_beyond_the_default_decimal_precision() -> None:
    big = Decimal("123456789012345678901234567890.125")
    assert quantize(big, "EUR") == Decimal("123456789012345678901234567890.13")


def test_split_gives_leftover_cents_to_the_largest_remainders_then_lowest_index() -> None:
    assert split(Decimal("10.00"), [Decimal(1)] * 3, "EUR") == [
        Decimal("3.34"),
        Decimal("3.33"),
        Decimal("3.33"),
    ]
    assert split(Decimal("1.00"), [Decimal(1), Decimal(2)], "EUR") == [
        Decimal("0.33"),
        Decimal("0.67"),
    ]


def test_split_of_a_negative_total_mirrors_the_positive_one() -> None:
    assert split(Decimal("-10.00"), [Decimal(1)] * 3, "EUR") == [
        Decimal("-3.34"),
        Decimal("-3.33"),
        Decimal("-3.33"),
    ]


def test_split_gives_nothing_to_a_zero_weight() -> None:
    assert split(Decimal("7"), [Decimal(0), Decimal(2)], "JPY") == [Decimal(0), Decimal(7)]


@pytest.mark.parametrize(
    "weights",
    [[], [Decimal(0)], [Decimal(-1), Decimal(2)], [Decimal("NaN")], [Decimal("Infinity")]],
)
def test_split_rejects_bad_weights(weights: list[Decimal]) -> None:
    with pytest.raises(ValueError, match="weight"):
        split(Decimal("1.00"), weights, "EUR")


def test_split_rejects_a_total_finer_than_the_currency() -> None:
    with pytest.raises(ValueError, match="minor units"):
        split(Decimal("1.001"), [Decimal(1)], "EUR")


currencies = st.sampled_from(["EUR", "JPY", "KWD", "CLF"])
weights = st.lists(
    st.decimals(min_value=0, max_value=10**6, places=3), min_size=1, max_size=20
).filter(lambda ws: any(w > 0 for w in ws))


@given(units=st.integers(-(10**15), 10**15), weights=weights, currency=currencies)
def test_split_parts_sum_exactly_to_the_total_and_are_deterministic(
    units: int, weights: list[Decimal], currency: str
) -> None:
    total = Decimal(units).scaleb(-exponent(currency))
    parts = split(total, weights, currency)
    assert sum(parts, Decimal(0)) == total
    assert len(parts) == len(weights)
    assert parts == split(total, list(weights), currency)
    assert all(part == quantize(part, currency) for part in parts)


@given(units=st.integers(0, 10**12), weights=weights)
def test_split_parts_are_within_one_minor_unit_of_the_exact_share(
    units: int, weights: list[Decimal]
) -> None:
    total = Decimal(units).scaleb(-2)
    whole = sum(weights, Decimal(0))
    for part, weight in zip(split(total, weights, "EUR"), weights, strict=True):
        exact = total * weight / whole
        assert abs(part - exact) < Decimal("0.01")
        assert part >= 0
