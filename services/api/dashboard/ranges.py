"""What the overview shows: a range of days (a preset, a custom range or a period label) and what it is compared
with (the previous period or the same period last year). The URL carries the choice, so a view can be bookmarked,
shared and exported as it is. Pure functions, no I/O (messages in the reader's language).

Values are read over the range up to its last day or today, whichever is first ("to date"); the comparison covers
the same days of the other period (1-20 November against 1-20 October, or against 1-20 November last year), so a
month to date is never compared with a whole month.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from services.api.dashboard.i18n import gettext as _
from services.api.reports.scorecard import previous_window
from shared.periods import (
    FIRST_YEAR,
    LAST_YEAR,
    Period,
    adjacent_periods,
    calendar_period_of,
    parse_period,
    period_containing,
    same_period_last_year,
)

PRESETS = ("this_month", "last_month", "quarter_to_date", "year_to_date", "last_30_days", "last_90_days")
CUSTOM = "custom"
COMPARISONS = ("previous", "last_year")
# To-date presets are compared within their whole period: 1 October - 20 November (quarter to date) with
# 1 July - 20 August, not with the 51 days before 1 October.
TO_DATE_FRAMES = {"quarter_to_date": "quarter", "year_to_date": "year"}
MAX_DAYS = 3 * 366  # a custom range longer than this is refused (its charts and drill-downs would read years)


class BadRange(ValueError):
    """A range the overview cannot show: the message says why and what to give instead."""


@dataclass(frozen=True)
class View:
    preset: str | None  # one of PRESETS, or None for a custom range or a period label
    start: date
    end: date  # inclusive: the whole range, possibly past today
    through: date  # the last day read: min(end, today); before `start` when the range has not begun
    period: Period | None  # the calendar period (week, month, quarter, half, year) whose dates the range is, if any
    compare: str  # one of COMPARISONS
    compare_start: date | None  # the same days in the other period (None: before the years periods cover)
    compare_end: date | None

    @property
    def started(self) -> bool:
        return self.through >= self.start

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def params(self) -> dict[str, str]:
        """The query parameters that reproduce this view."""
        if self.preset is not None:
            out = {"range": self.preset}
        elif self.period is not None:
            out = {"period": self.period.label}
        else:
            out = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.compare != COMPARISONS[0]:
            out["compare"] = self.compare
        return out

    def query(self, *, preset: str | None = None, period: Period | None = None, compare: str | None = None) -> str:
        """This view's query string, or another's: a preset or a period instead of these days, another comparison."""
        out = self.params()
        if preset is not None or period is not None:
            out = {k: v for k, v in out.items() if k == "compare"}
            out |= {"range": preset} if preset is not None else {"period": period.label}  # type: ignore[union-attr]
        if compare is not None:
            out.pop("compare", None)
            if compare != COMPARISONS[0]:
                out["compare"] = compare
        return urlencode(out)


def _day(text: str, name: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise BadRange(
            _("%(name)s %(given)r is not a date (YYYY-MM-DD).") % {"name": name, "given": text.strip()[:40]}
        ) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise BadRange(
            _("%(name)s must fall within %(first)s-%(last)s.") % {"name": name, "first": FIRST_YEAR, "last": LAST_YEAR}
        )
    return day


def _preset(name: str, today: date) -> tuple[date, date]:
    month = period_containing("month", today)
    if name == "this_month":
        return month.start, month.end
    if name == "last_month":
        last = period_containing("month", month.start - timedelta(days=1))
        return last.start, last.end
    if name == "quarter_to_date":
        return period_containing("quarter", today).start, today
    if name == "year_to_date":
        return date(today.year, 1, 1), today
    days = 30 if name == "last_30_days" else 90
    return today - timedelta(days=days - 1), today


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _compared(
    start: date, end: date, through: date, compare: str, frame: Period | None
) -> tuple[date | None, date | None]:
    """The same days in the other period. `frame` is the calendar period the view is (or runs to date within: a
    quarter or year to date), None for other days: their previous period is as many days just before them."""
    if through < start:  # not begun: nothing read, nothing to compare
        return None, None
    last = min(end, through)
    try:
        if compare == "last_year":
            if frame is None or frame.kind == "day":
                return _year_earlier(start), _year_earlier(last)
            before = same_period_last_year(frame)  # a week: the same ISO week, so weekdays line up
            first = before.start + (start - frame.start)
            span: tuple[date, date] | None = (first, min(first + (last - start), before.end))
            if (start, last) == (frame.start, frame.end):  # a whole period: the whole of last year's (29 February)
                span = (before.start, before.end)
        else:
            outer = (frame.start, frame.end) if frame is not None else (start, end)
            span = previous_window(*outer, start, last)
    except (ValueError, OverflowError):  # before the first year periods cover
        return None, None
    if span is None or span[0].year < FIRST_YEAR or span[0] > span[1]:
        return None, None
    return span


def resolve(
    *,
    today: date,
    range_: str | None = None,
    period: str | None = None,
    start: str | None = None,
    end: str | None = None,
    compare: str | None = None,
) -> View:
    """The view a URL asks for: `range` (a preset), else `period` (a label: 2026-11, 2026-Q4, 2026), else `from`
    and `to` (a custom range); this month when none is given. BadRange says what is wrong."""
    compare = (compare or COMPARISONS[0]).strip()
    if compare not in COMPARISONS:
        raise BadRange(_("compare must be one of: %(names)s.") % {"names": ", ".join(COMPARISONS)})
    preset, label = None, None
    if range_ and range_.strip() == CUSTOM:  # the custom-range form: its from and to dates
        range_ = None
        if not (start or end):
            raise BadRange(_("A custom range needs both from and to dates."))
    if range_:
        preset = range_.strip()
        if preset not in PRESETS:
            raise BadRange(
                _("range must be one of: %(names)s, or give from and to dates.") % {"names": ", ".join(PRESETS)}
            )
        first, last = _preset(preset, today)
    elif period:
        try:
            label = parse_period(period)
        except ValueError:
            given = period.strip()[:40]
            raise BadRange(
                _("%(given)r is not a period within %(first)s-%(last)s. Try 2026-11, 2026-Q4 or 2026.")
                % {"given": given, "first": FIRST_YEAR, "last": LAST_YEAR}
            ) from None
        first, last = label.start, label.end
    elif start or end:
        if not (start and end):
            raise BadRange(_("A custom range needs both from and to dates."))
        first, last = _day(start, "from"), _day(end, "to")
        if last < first:
            raise BadRange(_("to is before from."))
        if (last - first).days + 1 > MAX_DAYS:
            raise BadRange(_("A custom range spans at most %(n)s days.") % {"n": MAX_DAYS})
    else:
        preset = "this_month"
        first, last = _preset(preset, today)
    calendar = label or calendar_period_of(first, last)
    through = min(last, today)
    frame = period_containing(TO_DATE_FRAMES[preset], first) if preset in TO_DATE_FRAMES else calendar
    compare_start, compare_end = _compared(first, last, through, compare, frame)
    return View(preset, first, last, through, calendar, compare, compare_start, compare_end)


def from_query(query: Mapping[str, str], today: date) -> View:
    """The view a URL's query parameters ask for (`range`, `period`, `from`, `to`, `compare`)."""
    return resolve(
        today=today,
        range_=query.get("range"),
        period=query.get("period"),
        start=query.get("from"),
        end=query.get("to"),
        compare=query.get("compare"),
    )


def trend_kind(view: View) -> str:
    """The periods a view's trend charts step by: quarters for a quarter, half or year, else months."""
    if view.period is not None and view.period.kind in ("quarter", "half", "year"):
        return "quarter"
    return "month"


def neighbours(view: View) -> tuple[Period | None, Period | None]:
    """For a calendar period: the one before and the one after (None past the years periods cover)."""
    if view.period is None:
        return None, None
    [before], [after] = adjacent_periods(view.period, 1), adjacent_periods(view.period, 1, forward=True)
    return before, after
