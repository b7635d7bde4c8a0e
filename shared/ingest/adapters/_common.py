"""What every platform adapter shares: the per-org config, and strict readers of JSON values.

Each reader takes a value from a decoded JSON payload and the location it came from, and returns the typed
value or raises `AdapterError(message, location)`. No other exception leaves them, whatever the JSON.

Money points (`MONEY_METRICS`) carry the ISO 4217 currency the report states for their row (`Point.currency`,
upper-case), and every point of the row records where that currency is read (`Origin.fields["currency"]`) even
when the row leaves it out, so a refusal for a missing currency names the field to add.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from shared.ingest.points import AdapterError, Mode, Origin, Point
from shared.metrics.catalogue import STANDARD_METRICS
from shared.money.currencies import is_currency

# The store keeps 16 integer digits; anything near that is a unit mistake (micros read as currency), not spend.
MAX_VALUE = Decimal(10) ** 15
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ID = re.compile(r"\d{1,32}")
_CODE = re.compile(r"[A-Za-z]{3}")

# The metrics whose values are amounts of money (the standard catalogue's unit `currency`: spend, revenue…).
MONEY_METRICS = frozenset(metric.key for metric in STANDARD_METRICS if metric.unit == "currency")

# Meta reports one purchase under several action types at once (e.g. `omni_purchase` and `purchase` and
# `offsite_conversion.fb_pixel_purchase`); the first type present in this order is taken, the others ignored.
PURCHASE_TYPES = ("purchase", "offsite_conversion.fb_pixel_purchase", "omni_purchase")
LEAD_TYPES = ("lead", "onsite_conversion.lead_grouped", "offsite_conversion.fb_pixel_lead")


@dataclass(frozen=True)
class AdapterConfig:
    """Per-organisation settings of the adapters: which Meta action types count as which metric.

    Each tuple is a priority order: the first action type present in a row gives the metric, the rest are
    ignored, so one purchase reported under several aliases counts once.
    """

    meta_conversions: tuple[str, ...] = PURCHASE_TYPES  # counted from `actions`
    meta_leads: tuple[str, ...] = LEAD_TYPES  # counted from `actions`
    meta_revenue: tuple[str, ...] = PURCHASE_TYPES  # taken from `action_values`


DEFAULT_CONFIG = AdapterConfig()

# The settings an organisation may store per source (`PUT /v1/ingest/sources/{source}/config`), each the
# `AdapterConfig` field it sets. A source missing here has none: its adapter reads fixed fields.
SOURCE_SETTINGS: dict[str, dict[str, str]] = {
    "meta": {"conversions": "meta_conversions", "leads": "meta_leads", "revenue": "meta_revenue"},
}


def config_for(source: str, stored: Mapping[str, Sequence[str]]) -> AdapterConfig:
    """The adapters' config with an organisation's stored settings of one source over the defaults."""
    names = SOURCE_SETTINGS.get(source, {})
    return replace(DEFAULT_CONFIG, **{names[k]: tuple(v) for k, v in stored.items() if k in names})


def settings_of(source: str, config: AdapterConfig) -> dict[str, list[str]]:
    """One source's settings as a config holds them: {"conversions": ["purchase", ...], ...}."""
    return {name: list(getattr(config, attr)) for name, attr in SOURCE_SETTINGS.get(source, {}).items()}


def at(location: str, key: str | int) -> str:
    """The location of `key` inside `location`: `data[3]` + `spend` → `data[3].spend`."""
    if isinstance(key, int):
        return f"{location}[{key}]" if location != "$" else f"[{key}]"
    return key if location == "$" else f"{location}.{key}"


def obj(value: Any, location: str, what: str = "an object") -> dict[str, Any]:
    """The value as a JSON object."""
    if not isinstance(value, dict):
        raise AdapterError(f"expected {what}, got {describe(value)}", location)
    return value


def array(value: Any, location: str, what: str = "a list") -> list[Any]:
    """The value as a JSON array."""
    if not isinstance(value, list):
        raise AdapterError(f"expected {what}, got {describe(value)}", location)
    return value


def amount(value: Any, location: str) -> Decimal:
    """A non-negative finite number given as a JSON number or a decimal string ("12.30"), as Decimal."""
    if isinstance(value, bool):
        raise AdapterError(f"expected a number, got {describe(value)}", location)
    if isinstance(value, int):
        if abs(value) >= MAX_VALUE:
            raise AdapterError(f"{describe(value)} is implausibly large", location)
        number = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise AdapterError(f"expected a finite number, got {value}", location)
        number = Decimal(repr(value))  # the shortest text of the float: 12.5, not 12.4999999…
    elif isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            raise AdapterError(f"expected a decimal number, got {describe(value)}", location)
        number = Decimal(value)
    else:
        raise AdapterError(f"expected a number, got {describe(value)}", location)
    if number < 0:
        raise AdapterError(f"must not be negative, got {number}", location)
    if number >= MAX_VALUE:
        raise AdapterError(f"{number} is implausibly large", location)
    return number.copy_abs()  # "-0" is 0


def micros(value: Any, location: str) -> Decimal:
    """A whole number of micros (int64, as a JSON number or a string) in currency units: 1234567 → 1.234567."""
    number = amount(value, location)
    if number != number.to_integral_value():
        raise AdapterError(f"micros must be a whole number, got {number}", location)
    return number.to_integral_value().scaleb(-6)


def day(value: Any, location: str) -> date:
    """A YYYY-MM-DD date."""
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise AdapterError(f"expected a date as YYYY-MM-DD, got {describe(value)}", location)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AdapterError(f"{value} is not a calendar date", location) from None


def currency(value: Any, location: str) -> str:
    """An ISO 4217 code of a currency in use, in any case ("eur" → "EUR")."""
    if not isinstance(value, str) or not _CODE.fullmatch(value.strip()):
        raise AdapterError(f"expected an ISO 4217 currency code such as 'EUR', got {describe(value)}", location)
    code = value.strip().upper()
    if not is_currency(code):
        raise AdapterError(f"{code!r} is not an ISO 4217 currency in use", location)
    return code


def campaign_id(value: Any, location: str) -> str:
    """A campaign id: digits, given as a string or a JSON integer (ETL tools relay both)."""
    if value is None:
        raise AdapterError("the campaign id is missing", location)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**32:
        return str(value)
    if isinstance(value, str) and _ID.fullmatch(value):
        return value
    raise AdapterError(f"expected a campaign id (digits), got {describe(value)}", location)


class Rows:
    """Collects the points of one payload and refuses a campaign/day given twice.

    Two rows for one campaign and day mean the report was broken down further (by age, device, placement…);
    as snapshots the second would silently replace the first, so the payload is refused instead.
    """

    def __init__(self, channel: str):
        self.channel = channel
        self.points: list[Point] = []
        self._seen: dict[tuple[str, date], str] = {}

    def add(
        self,
        campaign: str,
        on: date,
        values: Iterable[tuple[str, Decimal, str]],
        location: str,
        *,
        day_at: str,
        campaign_at: str,
        money: tuple[str | None, str],
    ) -> None:
        """Record one row's metric values (metric, value, where the value was read), in the order given.

        `day_at` and `campaign_at` say where the row's day and campaign id were read: each point carries them
        (`Point.origin`), so a point refused later (a day too far ahead) names the report's row and field.
        `money` is the row's currency (None: the report does not state it) and where it is read or would be:
        each money point carries the currency, every point the location.
        """
        code, code_at = money
        first = self._seen.setdefault((campaign, on), location)
        if first != location:
            raise AdapterError(
                f"campaign {campaign} on {on} was already given at {first}; "
                "report one row per campaign and day (no breakdowns)",
                location,
            )
        dimensions = {"channel": self.channel, "campaign": campaign}
        fields = {
            "timestamp": day_at,
            "mode": location,
            "dimensions": location,
            "dimensions.channel": location,
            "dimensions.campaign": campaign_at,
            "currency": code_at,
        }
        self.points.extend(
            Point(
                metric,
                value,
                on,
                dict(dimensions),
                Mode.snapshot,
                Origin(location, fields, where),
                code if metric in MONEY_METRICS else None,
            )
            for metric, value, where in values
        )


def describe(value: Any) -> str:
    """How a value reads in a message: null, true, an object, a list, or the value itself ('abc', 12.5)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and abs(value) >= 10**40:  # repr of a huge int can itself raise (str digit limit)
        return "a number of more than 40 digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
