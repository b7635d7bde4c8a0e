"""Period labels turn into the dates they cover."""

from datetime import date

import pytest

from shared.periods import adjacent_periods, parse_period, same_period_last_year


@pytest.mark.parametrize(
    ("label", "kind", "start", "end"),
    [
        ("2027", "year", date(2027, 1, 1), date(2027, 12, 31)),
        ("2027-H2", "half", date(2027, 7, 1), date(2027, 12, 31)),
        ("2027-Q1", "quarter", date(2027, 1, 1), date(2027, 3, 31)),
        ("2028-q1", "quarter", date(2028, 1, 1), date(2028, 3, 31)),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2026, 12, 31)),
        ("2028-02", "month", date(2028, 2, 1), date(2028, 2, 29)),
        ("2027-02", "month", date(2027, 2, 1), date(2027, 2, 28)),
        ("2027-W01", "week", date(2027, 1, 4), date(2027, 1, 10)),
        ("2026-W53", "week", date(2026, 12, 28), date(2027, 1, 3)),
        ("2027-03-15", "day", date(2027, 3, 15), date(2027, 3, 15)),
    ],
)
def test_labels_cover_their_dates(label, kind, start, end):
    period = parse_period(label)
    assert (period.kind, period.start, period.end) == (kind, start, end)
    assert period.days == (end - start).days + 1


@pytest.mark.parametrize("label", ["", "27", "2027-Q5", "2027-13", "2027-02-30", "2027-W60", "Q1-2027", "2027-H3"])
def test_nonsense_labels_are_refused(label):
    with pytest.raises(ValueError):
        parse_period(label)


@pytest.mark.parametrize(
    ("label", "count", "expected"),
    [
        ("2027-Q1", 3, ["2026-Q2", "2026-Q3", "2026-Q4"]),
        ("2027-01", 2, ["2026-11", "2026-12"]),
        ("2027-W01", 2, ["2026-W52", "2026-W53"]),
        ("2027-H1", 1, ["2026-H2"]),
        ("2027", 2, ["2025", "2026"]),
        ("2027-03-01", 2, ["2027-02-27", "2027-02-28"]),
    ],
)
def test_previous_periods_step_back_by_kind(label, count, expected):
    assert [p.label for p in adjacent_periods(parse_period(label), count)] == expected


@pytest.mark.parametrize(
    ("label", "expected"),
    [("2027-Q1", "2026-Q1"), ("2028-02-29", "2027-02-28"), ("2027-W10", "2026-W10"), ("2026-W53", "2025-W52")],
)
def test_same_period_last_year(label, expected):
    assert same_period_last_year(parse_period(label)).label == expected
