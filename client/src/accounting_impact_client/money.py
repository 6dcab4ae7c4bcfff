"""Money as the contract knows it: ISO 4217 currencies, their minor units, rounding."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Context, Decimal
from types import MappingProxyType

from accounting_impact_client.errors import UnknownCurrency

# Wide enough that no product of two validated amounts (18 integer digits, 18 decimals each)
# is ever rounded before we round it on purpose with quantize().
MONEY_CONTEXT = Context(prec=100, rounding=ROUND_HALF_UP)


def _codes(table: str) -> list[str]:
    return table.split()


# ISO 4217 active codes with their minor-unit exponent. Codes whose minor unit is "N.A."
# (precious metals, XDR, XSU, XUA, test codes) are left out: they cannot be posted. Codes
# being replaced (ANG by XCG, SLL by SLE, CUC) stay while old documents still carry them.
_EXPONENTS_BY_CODE = {
    **dict.fromkeys(
        _codes(
            "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN "
            "BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN "
            "ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES "
            "KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK "
            "MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR "
            "SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD "
            "TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
        ),
        2,
    ),
    **dict.fromkeys(
        _codes("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"), 0
    ),
    **dict.fromkeys(_codes("BHD IQD JOD KWD LYD OMR TND"), 3),
    **dict.fromkeys(_codes("CLF UYW"), 4),
}
CURRENCY_EXPONENTS: Mapping[str, int] = MappingProxyType(_EXPONENTS_BY_CODE)


def exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {currency!r}") from None


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency, e.g. Decimal('0.01') for EUR."""
    return Decimal(1).scaleb(-exponent(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, halves away from zero."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP, context=MONEY_CONTEXT)


def plain(value: Decimal) -> str:
    """A decimal for people to read: no exponent, no trailing zeros (0E-8 -> "0")."""
    text = format(value.normalize(MONEY_CONTEXT), "f")
    return text
