"""The overview's views: presets, custom ranges and period labels, what each is compared with, and URLs that
carry the choice (pure functions: services/api/dashboard/ranges.py)."""

from datetime import date
from urllib.parse import parse_qsl

import pytest

from services.api.dashboard.ranges import BadRange, View, from_query, neighbours, resolve, trend_kind

TODAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("preset", "start", "end", "through"),
    [
        ("this_month", date(2026, 11, 1), date(2026, 11, 30), TODAY),
        ("last_month", date(2026, 10, 1), date(2026, 10, 31), date(2026, 10, 31)),
        ("quarter_to_date", date(2026, 10, 1), TODAY, TODAY),
        ("year_to_date", date(2026, 1, 1), TODAY, TODAY),
        ("last_30_days", date(2026, 10, 22), TODAY, TODAY),
        ("last_90_days", date(2026, 8, 23), TODAY, TODAY),
    ],
)
def test_presets_cover_the_days_they_name(preset, start, end, through):
    view = resolve(today=TODAY, range_=preset)
    assert (view.preset, view.start, view.end, view.through) == (preset, start, end, through)
    assert (view.through - view.start).days + 1 == {"last_30_days": 30, "last_90_days": 90}.get(
        preset, (view.through - view.start).days + 1
    )


def test_no_choice_is_this_month_compared_with_the_same_days_of_last_month():
    view = resolve(today=TODAY)
    assert view.preset == "this_month" and view.period is not None and view.period.label == "2026-11"
    # 1-20 November against 1-20 October: a month to date is never compared with a whole month.
    assert (view.compare_start, view.compare_end) == (date(2026, 10, 1), date(2026, 10, 20))


def test_a_whole_past_month_compares_with_the_whole_month_before_it_and_with_last_year():
    march = resolve(today=TODAY, period="2026-03")
    assert (march.compare_start, march.compare_end) == (date(2026, 2, 1), date(2026, 2, 28))
    last_year = resolve(today=TODAY, period="2026-03", compare="last_year")
    assert (last_year.compare_start, last_year.compare_end) == (date(2025, 3, 1), date(2025, 3, 31))


def test_a_custom_range_compares_with_as_many_days_just_before_or_a_year_earlier():
    view = resolve(today=TODAY, start="2026-11-03", end="2026-11-09")
    assert view.preset is None and view.period is None and view.days == 7
    assert (view.compare_start, view.compare_end) == (date(2026, 10, 27), date(2026, 11, 2))
    leap = resolve(today=date(2028, 3, 10), start="2028-02-29", end="2028-03-01", compare="last_year")
    assert (leap.compare_start, leap.compare_end) == (date(2027, 2, 28), date(2027, 3, 1))


def test_dates_that_are_a_calendar_period_are_that_period():
    view = resolve(today=TODAY, start="2026-10-01", end="2026-12-31")
    assert view.period is not None and view.period.label == "2026-Q4"
    assert trend_kind(view) == "quarter" and trend_kind(resolve(today=TODAY)) == "month"


def test_a_range_not_begun_reads_nothing_yet():
    view = resolve(today=TODAY, period="2027-01")
    assert not view.started and view.through < view.start


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"range_": "forever"}, "range must be one of"),
        ({"compare": "tomorrow"}, "compare must be one of"),
        ({"start": "2026-11-01"}, "both from and to"),
        ({"range_": "custom"}, "both from and to"),
        ({"start": "2026-11-09", "end": "2026-11-01"}, "before from"),
        ({"start": "2026-13-01", "end": "2026-12-01"}, "is not a date"),
        ({"start": "1800-01-01", "end": "1800-02-01"}, "1900-2199"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "at most"),
        ({"period": "someday"}, "Try 2026-11"),
    ],
)
def test_what_cannot_be_shown_says_why(params, message):
    with pytest.raises(BadRange, match=message):
        resolve(today=TODAY, **params)


def _again(view: View, query: str) -> View:
    return from_query(dict(parse_qsl(query)), TODAY)


@pytest.mark.parametrize(
    "params",
    [
        {"range_": "last_90_days", "compare": "last_year"},
        {"period": "2026-Q3"},
        {"start": "2026-11-03", "end": "2026-11-09", "compare": "last_year"},
        {},
    ],
)
def test_the_url_carries_the_choice(params):
    view = resolve(today=TODAY, **params)
    assert _again(view, view.query()) == view
    other = _again(view, view.query(compare="last_year"))
    assert other.compare == "last_year" and (other.start, other.end) == (view.start, view.end)
    preset = _again(view, view.query(preset="year_to_date"))
    assert preset.preset == "year_to_date" and preset.compare == view.compare


def test_a_period_has_neighbours_within_the_years_covered():
    before, after = neighbours(resolve(today=TODAY, period="2026-Q4"))
    assert (before.label, after.label) == ("2026-Q3", "2027-Q1")
    assert neighbours(resolve(today=TODAY, period="1900"))[0] is None
    assert neighbours(resolve(today=TODAY, range_="last_30_days")) == (None, None)


def test_to_date_presets_compare_within_their_whole_period():
    qtd = resolve(today=TODAY, range_="quarter_to_date")
    assert (qtd.compare_start, qtd.compare_end) == (date(2026, 7, 1), date(2026, 8, 20))
    ytd = resolve(today=TODAY, range_="year_to_date")
    assert (ytd.compare_start, ytd.compare_end) == (date(2025, 1, 1), date(2025, 11, 20))
    ytd_last_year = resolve(today=TODAY, range_="year_to_date", compare="last_year")
    assert (ytd_last_year.compare_start, ytd_last_year.compare_end) == (date(2025, 1, 1), date(2025, 11, 20))


def test_a_whole_period_last_year_is_that_whole_period():
    # February 2025 against all 29 days of February 2024; an ISO week against the same week number.
    feb = resolve(today=TODAY, period="2025-02", compare="last_year")
    assert (feb.compare_start, feb.compare_end) == (date(2024, 2, 1), date(2024, 2, 29))
    week = resolve(today=TODAY, period="2026-W10", compare="last_year")
    assert week.compare_start.isoweekday() == 1 and week.compare_start.isocalendar().week == 10


def test_a_view_not_begun_has_nothing_to_compare():
    view = resolve(today=TODAY, period="2027-01")
    assert (view.compare_start, view.compare_end) == (None, None)
