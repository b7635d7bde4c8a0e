"""KPI evaluation: a window's value against its target gives expected-to-date, forecast, attainment and status."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.kpis.evaluation import (
    Direction,
    Evaluation,
    Pacing,
    Status,
    ThresholdMode,
    Thresholds,
    evaluate,
    resolve_thresholds,
    severity,
    validate_target,
    validate_thresholds,
    worse,
)
from shared.periods import day_of_period, elapsed_fraction

D = Decimal
HIGHER, LOWER, RANGE = Direction.higher_is_better, Direction.lower_is_better, Direction.target_range
LINEAR, NONE = Pacing.linear, Pacing.none
ON, AT_RISK, OFF, NO_DATA = Status.on_track, Status.at_risk, Status.off_track, Status.no_data
PERCENT = ThresholdMode.percent


def levels(direction: Direction, mode: ThresholdMode = ThresholdMode.absolute, **given: str) -> Thresholds:
    return resolve_thresholds(direction, mode=mode, **{key: D(value) for key, value in given.items()})


def run(value: str | None, direction: Direction, thresholds: Thresholds, pacing: Pacing, elapsed: str) -> Evaluation:
    return evaluate(
        value=None if value is None else D(value),
        direction=direction,
        thresholds=thresholds,
        pacing=pacing,
        elapsed=D(elapsed),
    )


def outcome(ev: Evaluation) -> tuple:
    return ev.status, ev.expected_to_date, ev.forecast, ev.attainment_pct


def expect(status: Status, expected: str | None, forecast: str | None, attainment: str | None) -> tuple:
    return status, *(None if x is None else D(x) for x in (expected, forecast, attainment))


# --- evaluate: one table per direction ----------------------------------------------------------------

LEADS = levels(HIGHER, target="1000", warning="900", critical="750")


@pytest.mark.parametrize(
    ("value", "pacing", "elapsed", "thresholds", "expected"),
    [
        pytest.param("1200", NONE, "1", LEADS, expect(ON, "1000", "1200", "120"), id="above target: on track"),
        pytest.param("850", NONE, "1", LEADS, expect(AT_RISK, "1000", "850", "85"), id="below warning: at risk"),
        pytest.param("700", NONE, "1", LEADS, expect(OFF, "1000", "700", "70"), id="below critical: off track"),
        pytest.param("900", NONE, "1", LEADS, expect(ON, "1000", "900", "90"), id="exactly the warning: on track"),
        pytest.param("750", NONE, "1", LEADS, expect(AT_RISK, "1000", "750", "75"), id="exactly critical: at risk"),
        pytest.param("95", LINEAR, "0.1", LEADS, expect(ON, "100", "950", "95"), id="linear early: 95 of 100 so far"),
        pytest.param("400", LINEAR, "0.5", LEADS, expect(AT_RISK, "500", "800", "80"), id="linear mid: below 450"),
        pytest.param("630", LINEAR, "0.9", LEADS, expect(OFF, "900", "700", "70"), id="linear late: below 675"),
        pytest.param("1000", LINEAR, "1", LEADS, expect(ON, "1000", "1000", "100"), id="linear on the last day"),
        pytest.param("0", LINEAR, "0", LEADS, expect(ON, "0", None, None), id="linear before the period: on track"),
        pytest.param("-5", LINEAR, "0", LEADS, expect(OFF, "0", None, None), id="linear before: negative is worse"),
        pytest.param(None, NONE, "0.5", LEADS, expect(NO_DATA, "1000", None, None), id="no data"),
        pytest.param(None, LINEAR, "0.5", LEADS, expect(NO_DATA, "500", None, None), id="no data still expects"),
        pytest.param("0", NONE, "1", LEADS, expect(OFF, "1000", "0", "0"), id="zero: off track, 0% attained"),
        pytest.param(
            "800",
            NONE,
            "1",
            levels(HIGHER, PERCENT, target="1000", warning="90", critical="75"),
            expect(AT_RISK, "1000", "800", "80"),
            id="percent thresholds: 90% and 75% of target",
        ),
        pytest.param(
            "999", NONE, "1", levels(HIGHER, target="1000"), expect(AT_RISK, "1000", "999", "99.9"), id="default: 99.9%"
        ),
        pytest.param(
            "899", NONE, "1", levels(HIGHER, target="1000"), expect(OFF, "1000", "899", "89.9"), id="default: below 90%"
        ),
        pytest.param(
            "-50", NONE, "1", levels(HIGHER, target="-100"), expect(ON, "-100", "-50", None), id="negative target"
        ),
    ],
)
def test_higher_is_better_kpis_are_judged_against_warning_and_critical(value, pacing, elapsed, thresholds, expected):
    assert outcome(run(value, HIGHER, thresholds, pacing, elapsed)) == expected


CPA = levels(LOWER, target="100", warning="110", critical="125")
SPEND_CAP = levels(LOWER, target="9000")  # warning 9000, critical 9900


@pytest.mark.parametrize(
    ("value", "pacing", "elapsed", "thresholds", "expected"),
    [
        pytest.param("90", NONE, "1", CPA, expect(ON, "100", "90", "111.11"), id="below target: on track"),
        pytest.param("100", NONE, "1", CPA, expect(ON, "100", "100", "100"), id="exactly the target"),
        pytest.param("110", NONE, "1", CPA, expect(ON, "100", "110", "90.91"), id="exactly the warning: on track"),
        pytest.param("120", NONE, "1", CPA, expect(AT_RISK, "100", "120", "83.33"), id="above warning: at risk"),
        pytest.param("125", NONE, "1", CPA, expect(AT_RISK, "100", "125", "80"), id="exactly critical: at risk"),
        pytest.param("130", NONE, "1", CPA, expect(OFF, "100", "130", "76.92"), id="above critical: off track"),
        pytest.param("950", LINEAR, "0.1", SPEND_CAP, expect(AT_RISK, "900", "9500", "94.74"), id="linear early"),
        pytest.param("4000", LINEAR, "0.5", SPEND_CAP, expect(ON, "4500", "8000", "112.5"), id="linear mid: under"),
        pytest.param("9000", LINEAR, "0.9", SPEND_CAP, expect(OFF, "8100", "10000", "90"), id="linear late: over"),
        pytest.param("0", LINEAR, "0", SPEND_CAP, expect(ON, "0", None, None), id="linear before the period"),
        pytest.param("50", LINEAR, "0", SPEND_CAP, expect(OFF, "0", None, None), id="linear before: spend is over"),
        pytest.param(None, NONE, "1", CPA, expect(NO_DATA, "100", None, None), id="no data"),
        pytest.param("0", NONE, "1", CPA, expect(ON, "100", "0", None), id="zero: on track, no attainment"),
        pytest.param(
            "120",
            NONE,
            "1",
            levels(LOWER, PERCENT, target="100", warning="110", critical="125"),
            expect(AT_RISK, "100", "120", "83.33"),
            id="percent thresholds: 110% and 125% of target",
        ),
        pytest.param("105", NONE, "1", levels(LOWER, target="100"), expect(AT_RISK, "100", "105", "95.24"), id="dflt"),
        pytest.param("111", NONE, "1", levels(LOWER, target="100"), expect(OFF, "100", "111", "90.09"), id="dflt off"),
    ],
)
def test_lower_is_better_kpis_are_judged_against_warning_and_critical(value, pacing, elapsed, thresholds, expected):
    assert outcome(run(value, LOWER, thresholds, pacing, elapsed)) == expected


CTR_BAND = levels(
    RANGE, target="20", target_high="30", warning="18", warning_high="33", critical="15", critical_high="36"
)
DEFAULT_BAND = levels(RANGE, target="20", target_high="30")  # warning 20..30, critical 18..33


@pytest.mark.parametrize(
    ("value", "pacing", "thresholds", "expected"),
    [
        pytest.param("25", NONE, CTR_BAND, expect(ON, None, "25", "100"), id="inside the band: on track"),
        pytest.param("20", NONE, CTR_BAND, expect(ON, None, "20", "100"), id="exactly the low end"),
        pytest.param("30", NONE, CTR_BAND, expect(ON, None, "30", "100"), id="exactly the high end"),
        pytest.param("19", NONE, CTR_BAND, expect(ON, None, "19", "95"), id="inside the warning band: on track"),
        pytest.param("17", NONE, CTR_BAND, expect(AT_RISK, None, "17", "85"), id="below the warning band: at risk"),
        pytest.param("15", NONE, CTR_BAND, expect(AT_RISK, None, "15", "75"), id="exactly the critical low"),
        pytest.param("14", NONE, CTR_BAND, expect(OFF, None, "14", "70"), id="below critical: off track"),
        pytest.param("34", NONE, CTR_BAND, expect(AT_RISK, None, "34", "88.24"), id="above warning: at risk"),
        pytest.param("36", NONE, CTR_BAND, expect(AT_RISK, None, "36", "83.33"), id="exactly the critical high"),
        pytest.param("40", NONE, CTR_BAND, expect(OFF, None, "40", "75"), id="above critical: off track"),
        pytest.param(None, NONE, CTR_BAND, expect(NO_DATA, None, None, None), id="no data"),
        pytest.param("0", NONE, CTR_BAND, expect(OFF, None, "0", "0"), id="zero: off track"),
        pytest.param("19", NONE, DEFAULT_BAND, expect(AT_RISK, None, "19", "95"), id="default: just outside"),
        pytest.param("33", NONE, DEFAULT_BAND, expect(AT_RISK, None, "33", "90.91"), id="default: 10% above"),
        pytest.param("17", NONE, DEFAULT_BAND, expect(OFF, None, "17", "85"), id="default: beyond 10%"),
        pytest.param(
            "17",
            NONE,
            levels(RANGE, PERCENT, target="20", target_high="30", warning="10", critical="20"),
            expect(AT_RISK, None, "17", "85"),
            id="percent: band widened by 10% and 20%",
        ),
        pytest.param("25", LINEAR, CTR_BAND, expect(ON, None, "25", "100"), id="pacing is ignored for a range"),
    ],
)
def test_target_range_kpis_are_on_track_inside_the_band(value, pacing, thresholds, expected):
    assert outcome(run(value, RANGE, thresholds, pacing, "0.3")) == expected


def test_the_reason_says_what_was_expected_by_which_day():
    thresholds = levels(HIGHER, target="9000")
    day_of = day_of_period(date(2027, 6, 1), date(2027, 6, 30), date(2027, 6, 15))
    ev = evaluate(
        value=D("4200"),
        direction=HIGHER,
        thresholds=thresholds,
        pacing=LINEAR,
        elapsed=elapsed_fraction(date(2027, 6, 1), date(2027, 6, 30), date(2027, 6, 15)),
        name="spend",
        day_of=day_of,
    )
    assert ev.status == AT_RISK
    assert ev.reason == "spend 4,200 is below the warning level 4,500 expected by day 15 of 30"


@pytest.mark.parametrize(
    ("value", "direction", "thresholds", "pacing", "reason"),
    [
        (
            "4600",
            HIGHER,
            LEADS,
            LINEAR,
            "leads 4,600 is at or above the warning level 450 expected at 50% of the period",
        ),
        ("300", HIGHER, LEADS, LINEAR, "leads 300 is below the critical level 375 expected at 50% of the period"),
        ("0.0123", LOWER, CPA, NONE, "leads 0.0123 is at or below the warning level 110"),
        ("1234567.891", LOWER, CPA, NONE, "leads 1,234,567.89 is above the critical level 125"),
        ("120", LOWER, CPA, NONE, "leads 120 is above the warning level 110"),
        ("25", RANGE, CTR_BAND, NONE, "leads 25 is inside the range 18 to 33"),
        ("34", RANGE, CTR_BAND, NONE, "leads 34 is outside the range 18 to 33 but inside 15 to 36"),
        ("10", RANGE, CTR_BAND, NONE, "leads 10 is outside the critical range 15 to 36"),
        (None, HIGHER, LEADS, NONE, "leads has no data yet"),
        (None, RANGE, CTR_BAND, NONE, "leads has no data yet"),
    ],
)
def test_the_reason_is_one_readable_sentence(value, direction, thresholds, pacing, reason):
    ev = evaluate(
        value=None if value is None else D(value),
        direction=direction,
        thresholds=thresholds,
        pacing=pacing,
        elapsed=D("0.5"),
        name="leads",
    )
    assert ev.reason == reason


def test_a_fourteen_of_thirty_days_forecast_is_exact_not_rounding_noise():
    elapsed = elapsed_fraction(date(2027, 6, 1), date(2027, 6, 30), date(2027, 6, 14))
    ev = evaluate(
        value=D("4200"), direction=HIGHER, thresholds=levels(HIGHER, target="9000"), pacing=LINEAR, elapsed=elapsed
    )
    assert (ev.expected_to_date, ev.forecast, ev.attainment_pct, ev.status) == (D("4200"), D("9000"), D("100"), ON)
    assert str(ev.forecast) == "9000" and str(ev.expected_to_date) == "4200"


# --- thresholds ---------------------------------------------------------------------------------------


def absolute(target, warning, critical, target_high=None, warning_high=None, critical_high=None) -> Thresholds:
    values = (target, warning, critical, target_high, warning_high, critical_high)
    return Thresholds(*(None if v is None else D(v) for v in values))


@pytest.mark.parametrize(
    ("direction", "mode", "given", "resolved"),
    [
        (HIGHER, "absolute", {"target": "1000"}, absolute("1000", "1000", "900")),
        (HIGHER, "absolute", {"target": "1000", "warning": "900", "critical": "750"}, absolute("1000", "900", "750")),
        (HIGHER, "absolute", {"target": "1000", "warning": "800"}, absolute("1000", "800", "700")),
        (HIGHER, "absolute", {"target": "1000", "critical": "500"}, absolute("1000", "1000", "500")),
        (HIGHER, "percent", {"target": "1000", "warning": "90", "critical": "75"}, absolute("1000", "900", "750")),
        (HIGHER, "percent", {"target": "1000", "warning": "80"}, absolute("1000", "800", "700")),
        (HIGHER, "percent", {"target": "-1000", "warning": "90"}, absolute("-1000", "-1100", "-1200")),
        (HIGHER, "absolute", {"target": "0"}, absolute("0", "0", "0")),
        (HIGHER, "absolute", {"target": "1", "target_high": "2"}, absolute("1", "1", "0.9", target_high="2")),
        (LOWER, "absolute", {"target": "100"}, absolute("100", "100", "110")),
        (LOWER, "percent", {"target": "100", "warning": "110", "critical": "125"}, absolute("100", "110", "125")),
        (LOWER, "percent", {"target": "100", "warning": "120"}, absolute("100", "120", "130")),
        (LOWER, "absolute", {"target": "100", "warning": "105"}, absolute("100", "105", "115")),
        (RANGE, "absolute", {"target": "20", "target_high": "30"}, absolute("20", "20", "18", "30", "30", "33")),
        (
            RANGE,
            "absolute",
            {"target": "20", "target_high": "30", "warning": "18", "warning_high": "33"},
            absolute("20", "18", "16", "30", "33", "36"),
        ),
        (
            RANGE,
            "percent",
            {"target": "20", "target_high": "30", "warning": "10"},
            absolute("20", "18", "16", "30", "33", "36"),
        ),
        (
            RANGE,
            "percent",
            {"target": "20", "target_high": "30", "warning": "10", "critical": "50"},
            absolute("20", "18", "10", "30", "33", "45"),
        ),
        (
            RANGE,
            "percent",
            {"target": "20", "target_high": "30", "warning": "10", "warning_high": "20"},
            absolute("20", "18", "16", "30", "36", "39"),
        ),
        (
            RANGE,
            "percent",
            {"target": "-20", "target_high": "-10", "warning": "50"},
            absolute("-20", "-30", "-32", "-10", "-5", "-4"),
        ),
        (RANGE, "absolute", {"target": "20"}, absolute("20", "20", "18")),
    ],
)
def test_thresholds_resolve_to_absolute_levels_with_defaults(direction, mode, given, resolved):
    assert levels(direction, ThresholdMode(mode), **given) == resolved


@pytest.mark.parametrize(
    ("direction", "thresholds", "problems"),
    [
        (HIGHER, absolute("1000", "900", "750"), []),
        (HIGHER, absolute("1000", "1000", "1000"), []),
        (HIGHER, absolute("1000", "1100", "750"), ["the warning level 1,100 must not be above the target 1,000"]),
        (HIGHER, absolute("1000", "900", "950"), ["the critical level 950 must not be above the warning level 900"]),
        (
            HIGHER,
            levels(HIGHER, PERCENT, target="1000", warning="110"),
            ["the warning level 1,100 must not be above the target 1,000"],
        ),
        (HIGHER, absolute("1", "1", "0", target_high="0"), ["target_high is only for target ranges"]),
        (LOWER, absolute("100", "110", "125"), []),
        (LOWER, absolute("100", "90", "125"), ["the warning level 90 must not be below the target 100"]),
        (LOWER, absolute("100", "110", "105"), ["the critical level 105 must not be below the warning level 110"]),
        (
            LOWER,
            absolute("100", "90", "80", critical_high="1"),
            [
                "critical_high is only for target ranges",
                "the warning level 90 must not be below the target 100",
                "the critical level 80 must not be below the warning level 90",
            ],
        ),
        (RANGE, absolute("20", "18", "15", "30", "33", "36"), []),
        (RANGE, absolute("20", "20", "20", "20", "20", "20"), []),
        (RANGE, absolute("20", "20", "18"), ["a target range needs an upper target (target_high)"]),
        (
            RANGE,
            absolute("30", "18", "15", "20", "33", "36"),
            ["the lower target 30 must not be above the upper target 20"],
        ),
        (
            RANGE,
            absolute("20", "22", "15", "30", "33", "36"),
            ["the lower warning level 22 must not be above the lower target 20"],
        ),
        (
            RANGE,
            absolute("20", "18", "19", "30", "33", "36"),
            ["the lower critical level 19 must not be above the lower warning level 18"],
        ),
        (
            RANGE,
            absolute("20", "18", "15", "30", "33", "32"),
            ["the upper warning level 33 must not be above the upper critical level 32"],
        ),
        (RANGE, absolute("20", "18", "15", "30", None, "36"), ["a target range needs warning_high"]),
        (HIGHER, absolute("NaN", "1", "0"), ["target must be a finite number"]),
        (RANGE, absolute("20", "18", "15", "30", "33", "Infinity"), ["critical_high must be a finite number"]),
    ],
)
def test_invalid_thresholds_are_explained(direction, thresholds, problems):
    assert validate_thresholds(direction, thresholds) == problems


@pytest.mark.parametrize(
    ("direction", "pacing", "problems"),
    [
        (RANGE, LINEAR, ["a target range cannot be paced linearly: use pacing none"]),
        (RANGE, NONE, []),
        (HIGHER, LINEAR, []),
        (LOWER, LINEAR, []),
    ],
)
def test_a_target_range_cannot_be_paced_linearly(direction, pacing, problems):
    thresholds = levels(direction, target="20", **({"target_high": "30"} if direction == RANGE else {}))
    assert validate_target(direction, pacing, thresholds) == problems


def test_a_target_reports_threshold_and_pacing_problems_together():
    problems = validate_target(RANGE, LINEAR, absolute("30", "18", "15", "20", "33", "36"))
    assert problems == [
        "the lower target 30 must not be above the upper target 20",
        "a target range cannot be paced linearly: use pacing none",
    ]


# --- the period ---------------------------------------------------------------------------------------

JUNE = (date(2027, 6, 1), date(2027, 6, 30))


@pytest.mark.parametrize(
    ("start", "end", "as_of", "day", "fraction"),
    [
        pytest.param(*JUNE, date(2027, 5, 31), 0, D(0), id="before the start"),
        pytest.param(*JUNE, date(2027, 6, 1), 1, D(1) / 30, id="the first day counts"),
        pytest.param(*JUNE, date(2027, 6, 15), 15, D("0.5"), id="half way"),
        pytest.param(*JUNE, date(2027, 6, 30), 30, D(1), id="the last day"),
        pytest.param(*JUNE, date(2027, 8, 1), 30, D(1), id="after the end"),
        pytest.param(date(2027, 6, 1), date(2027, 6, 1), date(2027, 6, 1), 1, D(1), id="one-day period, that day"),
        pytest.param(date(2027, 6, 1), date(2027, 6, 1), date(2027, 5, 31), 0, D(0), id="one-day period, before"),
        pytest.param(date(2028, 2, 1), date(2028, 2, 29), date(2028, 2, 29), 29, D(1), id="leap February"),
        pytest.param(*JUNE, datetime(2027, 6, 15, 23, 59), 15, D("0.5"), id="a timestamp counts as its day"),
    ],
)
def test_elapsed_fraction_counts_whole_days_both_ends_included(start, end, as_of, day, fraction):
    assert day_of_period(start, end, as_of) == (day, (end - start).days + 1)
    assert elapsed_fraction(start, end, as_of) == fraction


def test_a_period_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="ends"):
        elapsed_fraction(date(2027, 6, 30), date(2027, 6, 1), date(2027, 6, 15))


# --- status ordering ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (ON, ON, ON),
        (ON, AT_RISK, AT_RISK),
        (AT_RISK, OFF, OFF),
        (OFF, ON, OFF),
        (NO_DATA, AT_RISK, AT_RISK),
        (OFF, NO_DATA, OFF),
        (NO_DATA, NO_DATA, NO_DATA),
    ],
)
def test_worse_picks_the_more_severe_status_and_no_data_never_hides_one(a, b, expected):
    assert worse(a, b) == expected
    assert worse(b, a) == expected


def test_statuses_are_ordered_on_track_at_risk_off_track_with_no_data_apart():
    assert severity(ON) < severity(AT_RISK) < severity(OFF)
    assert severity(NO_DATA) is None
    assert severity("at_risk") == severity(AT_RISK)


# --- properties ---------------------------------------------------------------------------------------

amounts = st.decimals(min_value=-(10**6), max_value=10**6, places=2)
gaps = st.decimals(min_value=0, max_value=10**5, places=2)
paces = st.sampled_from(list(Pacing))


@st.composite
def elapsed_fractions(draw):
    days = draw(st.integers(min_value=1, max_value=366))
    return D(draw(st.integers(min_value=0, max_value=days))) / D(days)


@st.composite
def valid_thresholds(draw, direction):
    target, g1, g2 = draw(amounts), draw(gaps), draw(gaps)
    if direction == HIGHER:
        return Thresholds(target, target - g1, target - g1 - g2)
    if direction == LOWER:
        return Thresholds(target, target + g1, target + g1 + g2)
    high, g3, g4 = target + draw(gaps), draw(gaps), draw(gaps)
    return Thresholds(target, target - g1, target - g1 - g2, high, high + g3, high + g3 + g4)


def judged(value, direction, thresholds, pacing, elapsed) -> Evaluation:
    return evaluate(value=value, direction=direction, thresholds=thresholds, pacing=pacing, elapsed=elapsed)


def no_worse(better: Evaluation, other: Evaluation) -> bool:
    status_ok = severity(better.status) <= severity(other.status)
    attainment_ok = better.attainment_pct is None or other.attainment_pct is None
    return status_ok and (attainment_ok or better.attainment_pct >= other.attainment_pct)


@settings(max_examples=400, deadline=None)
@given(valid_thresholds(HIGHER), paces, elapsed_fractions(), amounts, amounts)
def test_for_higher_is_better_a_larger_value_never_looks_worse(thresholds, pacing, elapsed, a, b):
    assert validate_thresholds(HIGHER, thresholds) == []
    low, high = sorted((a, b))
    assert no_worse(judged(high, HIGHER, thresholds, pacing, elapsed), judged(low, HIGHER, thresholds, pacing, elapsed))


@settings(max_examples=400, deadline=None)
@given(valid_thresholds(LOWER), paces, elapsed_fractions(), amounts, amounts)
def test_for_lower_is_better_a_smaller_value_never_looks_worse(thresholds, pacing, elapsed, a, b):
    assert validate_thresholds(LOWER, thresholds) == []
    low, high = sorted((a, b))
    assert no_worse(judged(low, LOWER, thresholds, pacing, elapsed), judged(high, LOWER, thresholds, pacing, elapsed))


@settings(max_examples=400, deadline=None)
@given(valid_thresholds(RANGE), amounts, st.decimals(min_value=0, max_value=1, places=2))
def test_for_a_range_moving_toward_the_band_never_looks_worse(thresholds, value, step):
    assert validate_thresholds(RANGE, thresholds) == []
    nearest = min(max(value, thresholds.target), thresholds.target_high)
    closer = value + step * (nearest - value)
    assert no_worse(judged(closer, RANGE, thresholds, NONE, D(1)), judged(value, RANGE, thresholds, NONE, D(1)))


any_finite = st.decimals(allow_nan=False, allow_infinity=False)


@st.composite
def any_valid_thresholds(draw, direction):
    if direction == RANGE:
        c, w, t, th, wh, ch = sorted(draw(st.lists(any_finite, min_size=6, max_size=6)))
        return Thresholds(t, w, c, th, wh, ch)
    c, w, t = sorted(draw(st.lists(any_finite, min_size=3, max_size=3)))
    return Thresholds(t, w, c) if direction == HIGHER else Thresholds(c, w, t)


@settings(max_examples=600, deadline=None)
@given(st.data(), st.sampled_from(list(Direction)), paces, st.none() | any_finite)
def test_evaluate_never_raises_for_finite_inputs_and_valid_thresholds(data, direction, pacing, value):
    thresholds = data.draw(any_valid_thresholds(direction))
    elapsed = data.draw(st.decimals(min_value=0, max_value=1))
    assume(validate_thresholds(direction, thresholds) == [])
    ev = judged(value, direction, thresholds, pacing, elapsed)
    assert (ev.status == NO_DATA) == (value is None)
    assert ev.reason


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(Direction)), amounts, gaps)
def test_default_thresholds_are_always_valid(direction, target, width):
    given_ = {"target_high": target + width} if direction == RANGE else {}
    assert validate_thresholds(direction, resolve_thresholds(direction, target=target, **given_)) == []


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value="0.01", max_value=10**6, places=2),
    st.decimals(min_value=0, max_value=100, places=1),
    st.decimals(min_value=0, max_value=100, places=1),
)
def test_percent_thresholds_in_order_are_valid_for_a_positive_target(target, p, q):
    low, high = sorted((p, q))
    leads = resolve_thresholds(HIGHER, target=target, warning=high, critical=low, mode=PERCENT)
    cost = resolve_thresholds(LOWER, target=target, warning=100 + low, critical=100 + high, mode=PERCENT)
    band = resolve_thresholds(RANGE, target=target, target_high=target * 2, warning=low, critical=high, mode=PERCENT)
    assert validate_thresholds(HIGHER, leads) == []
    assert validate_thresholds(LOWER, cost) == []
    assert validate_thresholds(RANGE, band) == []
