"""Period labels used across plans, targets and reports: `2027`, `2027-H1`, `2027-Q1`, `2027-03`,
`2027-W05` (ISO week), `2027-03-15`. Pure functions, no I/O."""

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

_PATTERNS = (
    ("year", re.compile(r"^(?P<y>\d{4})$")),
    ("half", re.compile(r"^(?P<y>\d{4})-H(?P<n>[12])$")),
    ("quarter", re.compile(r"^(?P<y>\d{4})-Q(?P<n>[1-4])$")),
    ("month", re.compile(r"^(?P<y>\d{4})-(?P<n>\d{2})$")),
    ("week", re.compile(r"^(?P<y>\d{4})-W(?P<n>\d{2})$")),
    ("day", re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$")),
)


@dataclass(frozen=True)
class Period:
    label: str
    kind: str
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


FIRST_YEAR, LAST_YEAR = 1900, 2199  # as the API's dates: period arithmetic can never leave the calendar


def parse_period(label: str) -> Period:
    """The dates a label covers; ValueError (with the accepted forms) for anything else."""
    label = label.strip().upper()
    for kind, pattern in _PATTERNS:
        m = pattern.match(label)
        if not m:
            continue
        year = int(m["y"])
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError(
                f"{label!r} is outside the years this service plans and reports on ({FIRST_YEAR}-{LAST_YEAR})"
            )
        try:
            if kind == "year":
                return Period(label, kind, date(year, 1, 1), date(year, 12, 31))
            if kind == "half":
                first = 1 if m["n"] == "1" else 7
                return Period(label, kind, date(year, first, 1), _month_end(year, first + 5))
            if kind == "quarter":
                first = 3 * (int(m["n"]) - 1) + 1
                return Period(label, kind, date(year, first, 1), _month_end(year, first + 2))
            if kind == "month":
                month = int(m["n"])
                return Period(label, kind, date(year, month, 1), _month_end(year, month))
            if kind == "week":
                monday = date.fromisocalendar(year, int(m["n"]), 1)
                return Period(label, kind, monday, monday + timedelta(days=6))
            day = date(year, int(m["m"]), int(m["d"]))
            return Period(label, kind, day, day)
        except ValueError as exc:
            raise ValueError(f"{label!r} is not a real {kind}: {exc}") from exc
    raise ValueError(f"{label!r} is not a period label; use 2027, 2027-H1, 2027-Q1, 2027-03, 2027-W05 or 2027-03-15")


def period_containing(kind: str, day: date) -> Period:
    """The period of this kind (`year`, `half`, `quarter`, `month`, `week`, `day`) that contains the day."""
    if kind == "year":
        return parse_period(f"{day.year}")
    if kind == "half":
        return parse_period(f"{day.year}-H{1 if day.month <= 6 else 2}")
    if kind == "quarter":
        return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    if kind == "month":
        return parse_period(f"{day.year}-{day.month:02d}")
    if kind == "week":
        iso = day.isocalendar()
        return parse_period(f"{iso.year}-W{iso.week:02d}")
    if kind == "day":
        return parse_period(day.isoformat())
    raise ValueError(f"no period kind {kind!r}")


def adjacent_periods(period: Period, count: int, *, forward: bool = False) -> list[Period | None]:
    """The `count` periods of the same kind just before (or after) this one, in time order; None for those
    outside the years periods cover (1900-2199)."""
    out: list[Period | None] = []
    current = period
    for _ in range(count):
        day = current.end + timedelta(days=1) if forward else current.start - timedelta(days=1)
        try:
            current = period_containing(period.kind, day)
        except ValueError:
            out.extend([None] * (count - len(out)))
            break
        out.append(current)
    return out if forward else out[::-1]


def same_period_last_year(period: Period) -> Period:
    """The period of the same kind one year earlier (for weeks: the same ISO week number)."""
    if period.kind == "week":
        year, week = int(period.label[:4]) - 1, int(period.label[-2:])
        weeks_in_year = date(year, 12, 28).isocalendar().week
        return parse_period(f"{year}-W{min(week, weeks_in_year):02d}")
    start = period.start
    return period_containing(period.kind, date(start.year - 1, start.month, min(start.day, 28)))


def is_period_label(text: str) -> bool:
    """Whether the text has the shape of a period label (it may still name no real period, e.g. `2027-13`)."""
    label = text.strip().upper()
    return any(pattern.match(label) for _, pattern in _PATTERNS)


CALENDAR_KINDS = ("week", "month", "quarter", "half", "year")


def calendar_period_of(start: date, end: date) -> Period | None:
    """The calendar period (week, month, quarter, half or year) whose dates are exactly these, if any."""
    for kind in CALENDAR_KINDS:
        try:
            period = period_containing(kind, start)
        except ValueError:  # outside the years periods cover
            return None
        if (period.start, period.end) == (start, end):
            return period
    return None


# --- elapsed share of a period ------------------------------------------------------------------------


def _day(at: date | datetime) -> date:
    return at.date() if isinstance(at, datetime) else at


def day_of_period(period_start: date, period_end: date, as_of: date) -> tuple[int, int]:
    """(day, days): which day of the period as_of is (0 before it, days after it) and how many it has."""
    period_start, period_end, as_of = _day(period_start), _day(period_end), _day(as_of)
    if period_end < period_start:
        raise ValueError(f"the period ends ({period_end}) before it starts ({period_start})")
    days = (period_end - period_start).days + 1
    return min(max((as_of - period_start).days + 1, 0), days), days


def elapsed_fraction(period_start: date, period_end: date, as_of: date) -> Decimal:
    """Share of the period's whole days elapsed, as_of included: 0 before the start, 1 from the last day."""
    day, days = day_of_period(period_start, period_end, as_of)
    return Decimal(day) / Decimal(days)
