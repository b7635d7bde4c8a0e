"""Numbers, money, changes and dates as a reader of the dashboard's language expects them, with Babel's CLDR data:
`74.430 ₫` and `74.429,50 US$` in Vietnamese, `$74,429.50` in English; `12,5 %`; `1 thg 11, 2026`.

Each value is shown by its KPI's unit: money in the organisation's reporting currency with that currency's
digits, percentages (KPI values in percent units: 1.5 means 1.5 %) with one decimal, counts grouped, ratios and
scores with up to two decimals. A change is judged by the KPI's direction: a rise of spend where lower is better
is "worse", in words and with an icon, never by colour alone.
"""

import decimal
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_interval, format_skeleton
from babel.numbers import (
    format_compact_decimal,
    format_currency,
    format_decimal,
    format_percent,
)

from services.api.dashboard.i18n import current_locale, gettext
from shared.periods import Period

DASH = "—"
P = ParamSpec("P")
R = TypeVar("R")


def half_up(func: Callable[P, R]) -> Callable[P, R]:
    """Round halves up, as people and spreadsheets do (Babel's default is to the even: 1.25 % would read 1.2 %)."""

    @functools.wraps(func)
    def rounded(*args: P.args, **kwargs: P.kwargs) -> R:
        with decimal.localcontext() as context:
            context.rounding = decimal.ROUND_HALF_UP
            return func(*args, **kwargs)

    return rounded


CURRENCY_FALLBACK = "USD"


def _loc(locale: str | None) -> str:
    return locale or current_locale()


@half_up
def value(amount: Decimal | None, unit: str | None, currency: str | None = None, locale: str | None = None) -> str:
    """A KPI value by its unit (None: a dash)."""
    if amount is None:
        return DASH
    loc = _loc(locale)
    if unit == "currency":
        return format_currency(amount, currency or CURRENCY_FALLBACK, locale=loc)
    if unit == "percent":
        return format_percent(amount / 100, "#,##0.0%", locale=loc)
    if unit == "count":
        return format_decimal(amount, "#,##0.#", locale=loc)
    return format_decimal(amount, "#,##0.##", locale=loc)


@half_up
def short(amount: Decimal | None, unit: str | None, currency: str | None = None, locale: str | None = None) -> str:
    """A value in few characters, for a chart's axis: 4.6K, 2,8 Tr, 12.5% (money without its currency, which the
    chart's title and the card say: "4,6 N US$" would not fit beside a small chart)."""
    if amount is None:
        return DASH
    loc = _loc(locale)
    if unit == "percent":
        return format_percent(amount / 100, "#,##0.#%", locale=loc)
    return format_compact_decimal(amount, locale=loc, fraction_digits=1)


def number(amount: Decimal | None, locale: str | None = None) -> str:
    """A plain number (budget shares, counts of things) with up to two decimals."""
    return value(amount, "ratio", locale=locale)


def money(amount: Decimal | None, currency: str, locale: str | None = None) -> str:
    return value(amount, "currency", currency, locale)


def percent(pct: Decimal | None, locale: str | None = None) -> str:
    """A share already in percent units (87.5 → 87.5 %)."""
    return value(pct, "percent", locale=locale)


@dataclass(frozen=True)
class Change:
    """A change against the comparison period: the signed percentage, its arrow, and the verdict in words."""

    text: str  # "+124.8 %"
    arrow: str  # ▲ rise, ▼ fall, ＝ none
    verdict: str  # "better", "worse", "no change", or "" where the direction does not say (a target range)
    icon: str  # ✓ better, ✕ worse
    css: str  # better, worse, flat, neutral


@half_up
def change(pct: Decimal | None, direction: str | None, locale: str | None = None) -> Change | None:
    """The change judged by the KPI's direction (None when there is nothing to compare with)."""
    if pct is None:
        return None
    text = format_percent(pct / 100, "+#,##0.0%;-#,##0.0%", locale=_loc(locale))
    if pct == 0:
        return Change(format_percent(0, "#,##0.0%", locale=_loc(locale)), "＝", gettext("no change"), "", "flat")
    arrow = "▲" if pct > 0 else "▼"
    if direction not in ("higher_is_better", "lower_is_better"):
        return Change(text, arrow, "", "", "neutral")
    good = (pct > 0) == (direction == "higher_is_better")
    if good:
        return Change(text, arrow, gettext("better"), "✓", "better")
    return Change(text, arrow, gettext("worse"), "✕", "worse")


def day(when: date | None, locale: str | None = None, form: str = "medium") -> str:
    return DASH if when is None else format_date(when, form, locale=_loc(locale))


def days(start: date, end: date, locale: str | None = None) -> str:
    """A span of days: "1–30 Nov 2026", "1 thg 11 – 30 thg 11, 2026"; one day alone when they are the same."""
    if start == end:
        return day(start, locale)
    return format_interval(start, end, "yMMMd", locale=_loc(locale))


def moment(at: datetime | None, zone: str | None, locale: str | None = None) -> str:
    """A time in the organisation's zone (UTC when it has none)."""
    if at is None:
        return DASH
    return format_datetime(at, "medium", tzinfo=ZoneInfo(zone or "UTC"), locale=_loc(locale))


def period_name(period: Period, locale: str | None = None, short: bool = False) -> str:
    """A period as words: "November 2026" (short "Nov 26"), "Q4 2026", "2026"; a week or a half as its label."""
    loc = _loc(locale)
    if period.kind == "month":
        return format_skeleton("MMMyy" if short else "yMMMM", period.start, locale=loc)
    if period.kind == "quarter":
        return format_skeleton("QQQyy" if short else "yQQQ", period.start, locale=loc)
    if period.kind == "day":
        return day(period.start, loc)
    return period.label
