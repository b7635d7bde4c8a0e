"""A suggested target follows the KPI's own trend, at the history's true positions, scaled only by what
really stands out a year ago (season), and never answers a 500 whatever the size of the values."""

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.kpis.evaluation import Direction, Pacing, resolve_thresholds, validate_target
from shared.kpis.suggest import seasonal_factor, suggest_target
from tests.kpi_support import make_kpi, put_daily

D = Decimal
HIGHER, LOWER, RANGE = Direction.higher_is_better, Direction.lower_is_better, Direction.target_range


def line(start: int, step: int, count: int) -> list[Decimal]:
    return [D(start + step * i) for i in range(count)]


# --- the maths --------------------------------------------------------------------------------------------


def test_a_straight_line_has_no_season_so_the_target_is_the_trend_alone():
    # 100 + 10·t for t = 0..23; the target period is t = 24 (340). A year ago (t = 12) is 220, and the
    # periods around it, t = 9..15, lie on the same line: a factor of exactly 1, not 220 ÷ mean(t = 6..11).
    series = line(100, 10, 24)
    s = suggest_target(series[-6:], HIGHER, last_year_around=series[9:16])
    assert s is not None
    assert s.target == D("340.0000")
    assert s.numbers["seasonal_factor"] == D("1.0000")
    assert "seasonal factor 1 " in s.method and "340" in s.method


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(min_value=1, max_value=10**9),
    step=st.integers(min_value=0, max_value=10**6),
    missing=st.sets(st.integers(min_value=1, max_value=3), max_size=2),
)
def test_any_rising_line_has_a_seasonal_factor_of_one_even_with_gaps_around_last_year(start, step, missing):
    around = line(start, step, 7)
    for k in missing:  # drop one end of a pair: the pair is left out, the rest stays centred
        around[3 - k] = None
    season = seasonal_factor(around)
    assert season is not None and abs(season.factor - 1) < 1e-9


def test_a_spike_a_year_ago_scales_the_trend_by_its_ratio_to_its_neighbours():
    series = line(100, 10, 24)
    series[12] = D(330)  # the same period last year: 1.5 × the 220 its neighbours' line says
    s = suggest_target(series[-6:], HIGHER, last_year_around=series[9:16])
    assert s.numbers["seasonal_factor"] == D("1.5000")
    assert s.numbers["centred_mean_last_year"] == D("220.0000")
    assert s.target == D("510.0000")  # 340 × 1.5
    assert "seasonal factor 1.5" in s.method and "330" in s.method and "220" in s.method


def test_a_dip_a_year_ago_lowers_the_target():
    around = [D(200), D(200), D(200), D(100), D(200), D(200), D(200)]
    s = suggest_target([D(200)] * 6, HIGHER, last_year_around=around)
    assert s.target == D("100.0000") and s.numbers["seasonal_factor"] == D("0.5000")


def test_no_season_without_last_years_value_or_a_complete_pair_or_a_positive_level():
    assert seasonal_factor([D(1), D(2), None, D(4), D(5)]) is None
    assert seasonal_factor([D(1), None, D(3), D(4), None]) is None
    assert seasonal_factor([D(-5), D(-5), D(3), D(-5), D(-5)]) is None
    assert seasonal_factor([]) is None
    s = suggest_target(line(100, 10, 6), HIGHER, last_year_around=[None, D(1), D(2), None, D(3)])
    assert "seasonal_factor" not in s.numbers and "season" not in s.method
    assert s.target == D("160.0000")


def test_gaps_keep_the_later_values_at_their_true_positions():
    # 100, -, -, -, 200, 300 at positions 0, 4, 5: slope 500 / 14, projected at position 6.
    s = suggest_target([D(100), None, None, None, D(200), D(300)], HIGHER)
    assert s.numbers["trend_per_period"] == D("35.7143")
    assert s.target == D("307.1429")  # not 400, the projection of 100, 200, 300 squeezed together
    assert s.numbers["periods_used"] == 3
    assert s.numbers["history"] == [D("100.0000"), None, None, None, D("200.0000"), D("300.0000")]
    assert "3 without data left out" in s.method


def test_thresholds_sit_on_the_worse_side_and_a_range_is_a_band_that_validates():
    flat = [D(90), D(110), D(110), D(90)]  # mean 100, standard deviation 10, no trend
    higher = suggest_target(flat, HIGHER)
    lower = suggest_target(flat, LOWER)
    band = suggest_target(flat, RANGE)
    assert (higher.target, higher.warning, higher.critical) == (D(100), D(90), D(80))
    assert (lower.target, lower.warning, lower.critical) == (D(100), D(110), D(120))
    assert (band.target, band.target_high) == (D(90), D(110))
    assert (band.critical, band.warning, band.warning_high, band.critical_high) == (D(80), D(90), D(110), D(120))
    assert "range" in band.method
    levels = resolve_thresholds(
        RANGE,
        target=band.target,
        target_high=band.target_high,
        warning=band.warning,
        critical=band.critical,
        warning_high=band.warning_high,
        critical_high=band.critical_high,
    )
    assert validate_target(RANGE, Pacing.none, levels) == []


def test_too_little_history_suggests_nothing_and_huge_values_never_raise():
    assert suggest_target([D(1), None, D(2)], HIGHER) is None
    huge = suggest_target([D("1e30"), D("2e30"), D("3e30")], HIGHER, last_year_around=[D("1e30")] * 3)
    assert huge.target == D("4.00000000000000E+30")
    assert suggest_target([D("1e400"), D("1e400"), D("1e400")], HIGHER) is None  # past what a float holds
    assert suggest_target([D("1.7e308")] * 3, HIGHER) is None  # within it, but not its mean or trend


number = st.decimals(allow_nan=False, allow_infinity=False, min_value=D("-1e400"), max_value=D("1e400"), places=None)


@settings(max_examples=300, deadline=None)
@given(
    history=st.lists(st.none() | number, min_size=0, max_size=6),
    around=st.lists(st.none() | number, min_size=7, max_size=7),
    direction=st.sampled_from(list(Direction)),
)
def test_any_history_gives_valid_levels_or_none_and_never_raises(history, around, direction):
    s = suggest_target(history, direction, last_year_around=around)
    if s is None:
        return
    levels = resolve_thresholds(
        direction,
        target=s.target,
        target_high=s.target_high,
        warning=s.warning,
        critical=s.critical,
        warning_high=s.warning_high,
        critical_high=s.critical_high,
    )
    assert validate_target(direction, Pacing.none, levels) == []


# --- through the API ----------------------------------------------------------------------------------


async def put_monthly(state, org_id, metric: str, first: date, values: list) -> None:
    """One day of data (the 1st) per month from `first`; None leaves a month without data."""
    for i, value in enumerate(values):
        month = first.month - 1 + i
        if value is not None:
            await put_daily(state, org_id, metric, date(first.year + month // 12, month % 12 + 1, 1), [value])


async def suggested(client, headers, kpi, period: str) -> dict:
    r = await client.get(f"/v1/kpis/{kpi}/suggested-target?period={period}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_kpi_growing_steadily_is_suggested_its_trend_and_a_seasonal_peak_is_kept(client, keys, state, org):
    viewer = keys.headers("viewer")
    steady = await make_kpi(state, org.id, name="Leads", formula="leads")
    seasonal = await make_kpi(state, org.id, name="MQL", formula="mql")
    # May 2025 .. April 2027: 100, 110, … 330. The MQL series is the same with May 2026 half as high again.
    values = [100 + 10 * t for t in range(24)]
    await put_monthly(state, org.id, "leads", date(2025, 5, 1), values)
    await put_monthly(state, org.id, "mql", date(2025, 5, 1), [v * 1.5 if t == 12 else v for t, v in enumerate(values)])

    body = await suggested(client, viewer, steady, "2027-05")
    assert body["suggestion"]["target_value"] == "340"
    assert body["numbers"]["seasonal_factor"] == "1"
    assert "seasonal factor 1 " in body["explanation"] and "trend" in body["explanation"]

    body = await suggested(client, viewer, seasonal, "2027-05")
    assert body["suggestion"]["target_value"] == "510"
    assert (body["numbers"]["seasonal_factor"], body["numbers"]["same_period_last_year"]) == ("1.5", "330")
    assert "seasonal factor 1.5" in body["explanation"]


async def test_months_without_data_are_gaps_not_squeezed_out(client, keys, state, org):
    kpi = await make_kpi(state, org.id)
    await put_monthly(state, org.id, "leads", date(2026, 11, 1), [100, None, None, None, 200, 300])
    body = await suggested(client, keys.headers("viewer"), kpi, "2027-05")
    assert [p["value"] for p in body["history"]] == ["100", None, None, None, "200", "300"]
    assert (body["numbers"]["trend_per_period"], body["suggestion"]["target_value"]) == ("35.7143", "307.1429")


async def test_values_too_large_for_a_target_get_an_answer_not_a_500(client, keys, state, org):
    viewer = keys.headers("viewer")
    huge = await make_kpi(state, org.id, name="Scaled spend", formula="spend * 1000000000000000000000000")
    await put_monthly(state, org.id, "spend", date(2026, 11, 1), [100, 110, 120, 130, 140, 150])
    body = await suggested(client, viewer, huge, "2027-05")
    assert body["enough_history"] is False and body["suggestion"] is None
    assert body["explanation"].startswith("Not enough usable history") and "1.500E+26" in body["explanation"]
    # Large but storable: suggested as usual, to four places.
    big = await make_kpi(state, org.id, name="Big spend", formula="spend * 10000000000")
    body = await suggested(client, viewer, big, "2027-05")
    assert body["enough_history"] is True and body["suggestion"]["target_value"] == "1600000000000"


async def test_a_range_kpi_is_suggested_a_band_paced_none_that_can_be_sent_back_as_its_target(client, keys, state, org):
    ctr = await make_kpi(
        state, org.id, name="CTR", formula="clicks / impressions * 100", direction="target_range", unit="percent"
    )
    # CTR 18, 22, 18, 22, 18, 22: trend 6/17.5 a period projects 21.2; standard deviation 2.
    await put_monthly(state, org.id, "clicks", date(2026, 11, 1), [18, 22] * 3)
    await put_monthly(state, org.id, "impressions", date(2026, 11, 1), [100] * 6)
    body = await suggested(client, keys.headers("viewer"), ctr, "2027-05")
    levels = body["suggestion"]
    assert levels["pacing"] == "none", "a band is not cumulative"
    assert (levels["target_value"], levels["target_high"]) == ("19.2", "23.2")
    assert (levels["critical"], levels["critical_high"]) == ("17.2", "25.2")
    created = await client.post(
        f"/v1/kpis/{ctr}/targets", json={"period": "2027-05", **levels}, headers=keys.headers("editor")
    )
    assert created.status_code == 201, created.text
    assert created.json()["resolved"]["critical_high"] == "25.2"


async def test_a_period_near_the_first_year_covered_is_answered(client, keys, state, org):
    kpi = await make_kpi(state, org.id)
    body = await suggested(client, keys.headers("viewer"), kpi, "1900-02")
    assert body["enough_history"] is False and [p["period"] for p in body["history"]] == ["1900-01"]
