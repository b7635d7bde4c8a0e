"""Decimals as text: the one place numbers are written out, for JSON and payloads (`plain_number`), money
(`two_places`) and sentences (`show_number`)."""

from contextlib import suppress
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

_CENT = Decimal("0.01")
_PLACES = 8
_EIGHT_PLACES = Decimal(1).scaleb(-_PLACES)


def plain_number(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros, to at most 8 decimal places (the precision
    points are accepted with): 100, 2.5, 0.0001, 0.33333333 — the one rendering of numbers in JSON, webhook
    payloads and reasons that quote a number, whatever computed it (a ratio, a weekly value, a previous value)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_PLACES:
        with suppress(InvalidOperation):  # more digits than the context holds: written as it is
            value = value.quantize(_EIGHT_PLACES, rounding=ROUND_HALF_EVEN)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def two_places(value: Decimal) -> str:
    """Money and shares as text, always two places: 1250.00, 18.50."""
    return str(value.quantize(_CENT))


def money_text(value: Decimal) -> str:
    """An amount as text: two places (1250.00, 1500000.00), or three when its currency has them and the amount
    uses them (KWD 1.234): never fewer places than the amount was kept with."""
    cents = value.quantize(_CENT)
    return str(cents) if cents == value else format(value.quantize(Decimal("0.001")), "f")


def show_number(x: Decimal) -> str:
    """A number for a sentence: thousands separated, at most 2 places (4 significant digits when small)."""
    if not x.is_finite():
        return str(x)
    if x == 0:
        return "0"
    if abs(x.adjusted()) >= 15:
        return f"{x:.3E}"
    text = f"{x.quantize(Decimal(1).scaleb(-max(2, 3 - x.adjusted()))):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
