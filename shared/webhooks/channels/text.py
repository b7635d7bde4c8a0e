"""Small text helpers every channel format shares: one-line titles, truncation, dates and numbers as people read
them. English only for now (the dashboard's Vietnamese does not reach notifications yet)."""

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ELLIPSIS = "…"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def one_line(value: object) -> str:
    """Whitespace and control characters collapsed to single spaces: titles and subjects must stay one line
    (a newline in an e-mail header is refused, and in a Slack header it breaks the layout)."""
    text = "" if value is None else str(value)
    return " ".join("".join(" " if (ord(ch) < 0x20 or ord(ch) == 0x7F) else ch for ch in text).split())


def clean(value: object) -> str:
    """Multi-line text (a reason, an error) without control characters other than newlines and tabs."""
    text = "" if value is None else str(value)
    return "".join(ch for ch in text if ch in "\n\t" or not (ord(ch) < 0x20 or ord(ch) == 0x7F)).strip()


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, ending in "…" when cut, so a reader sees that something is missing."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def safe_url(url: object) -> str | None:
    """An http(s) URL or None: a link in any format may only open a web page."""
    if not isinstance(url, str) or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def day(iso: str | None) -> str:
    """A date as people read it: 2026-11-23 → "23 Nov 2026" (English month names whatever the locale)."""
    try:
        d = date.fromisoformat(str(iso))
    except ValueError:
        return one_line(iso)
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def day_range(start: str | None, end: str | None) -> str:
    """Days covered: "23 Nov – 29 Nov 2026"; the year twice only when it differs; one day when both are the same."""
    try:
        first, last = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    except ValueError:
        return f"{one_line(start)} – {one_line(end)}"
    if first == last:
        return day(end)
    head = f"{first.day} {_MONTHS[first.month - 1]}" + (f" {first.year}" if first.year != last.year else "")
    return f"{head} – {day(end)}"


def moment(iso: str | None, time_zone: str | None = None) -> str:
    """An ISO instant as "25 Nov 2026 14:00" in the organisation's zone, or in UTC (said so) without one."""
    try:
        when = datetime.fromisoformat(str(iso))
    except ValueError:
        return one_line(iso)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    zone = _zone(time_zone)
    local = when.astimezone(zone or UTC)
    shown = f"{local.day} {_MONTHS[local.month - 1]} {local.year} {local:%H:%M}"
    return shown if zone else f"{shown} UTC"


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def number(value: str | None, unit: str | None = None) -> str:
    """A decimal string as sent (the API's plain decimals), with " %" for a percent unit; "no value" for None."""
    if value is None:
        return "no value"
    return f"{one_line(value)} %" if unit == "percent" else one_line(value)


def share(fraction: str | None) -> str | None:
    """A share as a percentage: 0.9333 → "93 %" (budget shares are fractions of 1); None stays None."""
    if fraction is None:
        return None
    try:
        return f"{(Decimal(str(fraction)) * 100).quantize(Decimal(1)):f} %"
    except (InvalidOperation, ValueError):
        return one_line(fraction)


def words(key: str | None) -> str:
    """A machine key as words: "lower_is_better" → "Lower is better"."""
    text = one_line(key).replace("_", " ").replace(".", " ")
    return text[:1].upper() + text[1:]
