"""ISO 4217 currencies in use today and their minor units, from Babel's copy of the Unicode CLDR (a maintained
source, updated with each Babel release), not a hand-written table."""

from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache

from babel import Locale
from babel.numbers import get_currency_precision, get_territory_currencies


@cache
def currencies_in_use() -> frozenset[str]:
    """Every currency some territory uses as legal tender today (CLDR): funds, precious metals and withdrawn
    currencies (DEM, BGN since 2026) are not money this service accepts."""
    territories = [code for code in Locale("en").territories if isinstance(code, str) and len(code) == 2]
    return frozenset(
        code for territory in territories if territory.isalpha() for code in get_territory_currencies(territory)
    )


def is_currency(code: str) -> bool:
    return code in currencies_in_use()


@cache
def minor_units(code: str) -> int:
    """Decimal places of the currency's minor unit: USD 2, JPY 0, VND 0, KWD 3."""
    return get_currency_precision(code)


def quantum(code: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(code))


def round_money(amount: Decimal, code: str) -> Decimal:
    """The amount in whole minor units of its currency (half to even, as accounting does)."""
    return amount.quantize(quantum(code), rounding=ROUND_HALF_EVEN)


def has_minor_units(amount: Decimal, code: str) -> bool:
    """Whether the amount is written in whole minor units of its currency (no 0.5 VND, no 0.001 USD)."""
    return amount == amount.quantize(quantum(code)) if amount.is_finite() else False


def amount_text(amount: Decimal, code: str) -> str:
    """An amount as the API writes it: whole minor units of its currency (VND "1500000", USD "1500.00", KWD
    "1000.125"); a code CLDR does not know keeps two places."""
    return str(round_money(amount, code)) if is_currency(code) else str(amount.quantize(Decimal("0.01")))
