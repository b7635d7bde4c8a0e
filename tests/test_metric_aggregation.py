"""How a metric is reduced over a window: the aggregation the KPI values, the evaluation job and every read run
(`shared.metrics.aggregation`), from daily roll-ups as the merge writes them (sum, count, min, max, last)."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.kpis.formula import parse_formula
from shared.metrics.aggregation import Aggregation, DayTotal, window_aggregate

D = Decimal
START = date(2027, 6, 1)


def rollup(points: list[tuple[date, str, Decimal]]) -> list[DayTotal]:
    """Points (day, dimension set, value; in arrival order) rolled up per day and dimension set as metric_daily
    keeps them, then merged per day as a window reads them."""
    per_key: dict[tuple[date, str], list[Decimal]] = defaultdict(list)
    for day, dims, value in points:
        per_key[(day, dims)].append(value)
    rows_of: dict[date, list[DayTotal]] = defaultdict(list)
    for (day, _), values in per_key.items():
        rows_of[day].append(DayTotal(day, sum(values, D(0)), len(values), min(values), max(values), values[-1]))
    return [DayTotal.of(day, rows) for day, rows in sorted(rows_of.items())]


UNORDERED = [(date(2027, 6, 3), "a", D("5")), (date(2027, 6, 1), "a", D("2")), (date(2027, 6, 2), "a", D("8"))]


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        (Aggregation.sum, D("15")),
        (Aggregation.avg, D("5")),
        (Aggregation.min, D("2")),
        (Aggregation.max, D("8")),
        (Aggregation.last, D("5")),
    ],
)
def test_a_metric_is_aggregated_over_the_window(how, expected):
    assert window_aggregate(rollup(UNORDERED), how) == expected


@pytest.mark.parametrize("how", list(Aggregation))
def test_an_empty_window_has_no_value(how):
    assert window_aggregate([], how) is None


def test_an_average_is_over_all_points_never_an_average_of_daily_averages():
    points = [(START, "a", D("1")), (START, "a", D("2")), (START, "a", D("3")), (START + timedelta(1), "a", D("10"))]
    assert window_aggregate(rollup(points), Aggregation.avg) == D("4")  # 16 / 4, not (2 + 10) / 2


def test_last_is_the_latest_day_with_data_summed_over_dimension_sets_whatever_arrived_last():
    # A backfill of the first day arrives last: it does not become the window's "last".
    points = [(START + timedelta(1), "a", D("7")), (START + timedelta(1), "b", D("3")), (START, "a", D("1"))]
    assert window_aggregate(rollup(points), Aggregation.last) == D("10")


def test_cpc_over_two_days_is_total_spend_over_total_clicks():
    cpc = parse_formula("spend / clicks")
    spend = rollup([(START, "a", D("100")), (START + timedelta(1), "a", D("50"))])
    clicks = rollup([(START, "a", D("10")), (START + timedelta(1), "a", D("50"))])
    window = {"spend": window_aggregate(spend, Aggregation.sum), "clicks": window_aggregate(clicks, Aggregation.sum)}
    assert cpc.evaluate(window) == D("2.5")  # the mean of the daily CPCs would be 5.5


@pytest.mark.parametrize("clicks", [[], [(START, "a", D("0"))]], ids=["no clicks reported", "zero clicks"])
def test_a_window_without_clicks_has_no_cpc(clicks):
    window = {"spend": D("100"), "clicks": window_aggregate(rollup(clicks), Aggregation.sum)}
    assert parse_formula("spend / clicks").evaluate(window) is None


points_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=9).map(lambda n: START + timedelta(days=n)),
        st.sampled_from(["a", "b", "c"]),
        st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(points_strategy, st.integers(min_value=0, max_value=9), st.integers(min_value=0, max_value=9))
def test_the_rollups_give_what_the_raw_points_give_over_any_window(points, a, b):
    first, last = START + timedelta(days=min(a, b)), START + timedelta(days=max(a, b))
    days = [d for d in rollup(points) if first <= d.day <= last]
    inside = [(day, dims, value) for day, dims, value in points if first <= day <= last]
    values = [value for _, _, value in inside]
    if not values:
        assert all(window_aggregate(days, how) is None for how in Aggregation)
        return
    latest = max(day for day, _, _ in inside)
    last_per_set = {dims: value for day, dims, value in inside if day == latest}  # arrival order: the later wins
    assert window_aggregate(days, Aggregation.sum) == sum(values, D(0))
    assert window_aggregate(days, Aggregation.avg) == sum(values, D(0)) / len(values)
    assert window_aggregate(days, Aggregation.min) == min(values)
    assert window_aggregate(days, Aggregation.max) == max(values)
    assert window_aggregate(days, Aggregation.last) == sum(last_per_set.values(), D(0))
