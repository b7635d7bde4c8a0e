"""The alert state machine: a KPI's evaluations, one after another, and the status changes that fire alerts."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.kpis.evaluation import Direction, Pacing, Status, ThresholdMode, Thresholds, resolve_thresholds, severity
from shared.kpis.models import NoDataPolicy
from shared.kpis.state_machine import Decision, TargetState, decide, recovery_thresholds

D = Decimal
HIGHER, LOWER, RANGE = Direction.higher_is_better, Direction.lower_is_better, Direction.target_range
LINEAR, NONE = Pacing.linear, Pacing.none
ON, AT_RISK, OFF, NO_DATA = Status.on_track, Status.at_risk, Status.off_track, Status.no_data
NO_DATA_POLICY, KEEP_LAST, ZERO = NoDataPolicy.no_data, NoDataPolicy.keep_last, NoDataPolicy.zero
CODES = {"on": ON, "risk": AT_RISK, "off": OFF, "none": NO_DATA}
START = datetime(2026, 11, 1, tzinfo=UTC)

LEADS = resolve_thresholds(HIGHER, target=D(1000), warning=D(900), critical=D(750))
CPA = resolve_thresholds(LOWER, target=D(40), warning=D(45), critical=D(50))
CTR = resolve_thresholds(  # band 20–30; warning 18–33, critical 16–36
    RANGE, target=D(20), target_high=D(30), warning=D(10), critical=D(20), mode=ThresholdMode.percent
)
NARROW = Thresholds(D(20), D(19), D(18), D(22), D(23), D(24))
KPI = {HIGHER: (LEADS, "leads"), LOWER: (CPA, "CPA"), RANGE: (CTR, "CTR")}


def step(
    state: TargetState,
    value: str | None,
    direction: Direction = HIGHER,
    *,
    thresholds: Thresholds | None = None,
    pending: int = 1,
    margin: str = "0",
    policy: NoDataPolicy = NO_DATA_POLICY,
    pacing: Pacing = NONE,
    elapsed: str = "1",
    at: int = 0,
    zero_filled: bool = False,
) -> Decision:
    default, name = KPI[direction]
    return decide(
        state,
        value=None if value is None else D(value),
        direction=direction,
        thresholds=thresholds or default,
        pacing=pacing,
        elapsed=D(elapsed),
        pending_evaluations=pending,
        recovery_margin_pct=D(margin),
        no_data_policy=policy,
        zero_filled=zero_filled,
        name=name,
        now=START + timedelta(hours=at),
    )


def run(values: list[str | None], direction: Direction = HIGHER, **options) -> list[Decision]:
    """Evaluate a target once per value, from a clean state, persisting the state in between."""
    state, decisions = TargetState.initial(), []
    for at, value in enumerate(values):
        decisions.append(step(state, value, direction, at=at, **options))
        state = decisions[-1].state
    return decisions


def story(decisions: list[Decision]) -> str:
    """'on>on risk risk>risk': each evaluation's observed status, and '>X' where a transition confirmed X."""
    names = {status: code for code, status in CODES.items()}
    return " ".join(
        names[d.observed] + (f">{names[d.transition.to_status]}" if d.transition else "") for d in decisions
    )


# --- the table ----------------------------------------------------------------------------------------

CASES = [
    # higher is better: leads, warning 900, critical 750
    ("leads fall then recover, pending 1", HIGHER, ["1000", "850", "700", "950"], {}, "on>on risk>risk off>off on>on"),
    ("pending 3: a breach fires on its 3rd evaluation", HIGHER, ["1000", "850", "850", "850"], {"pending": 3},
     "on>on risk risk risk>risk"),
    ("pending 3: back on track clears the candidate", HIGHER, ["1000", "850", "850", "950", "850", "850"],
     {"pending": 3}, "on>on risk risk on risk risk"),
    ("on track → off track is one transition", HIGHER, ["1000", "700", "700", "700"], {"pending": 3},
     "on>on off off off>off"),
    ("escalation at risk → off track, pending 1", HIGHER, ["1000", "850", "700"], {}, "on>on risk>risk off>off"),
    ("escalation needs its own pending evaluations", HIGHER, ["850", "850", "850", "700", "700", "700"],
     {"pending": 3}, "risk risk risk>risk off off off>off"),
    ("a mixed breach confirms the milder status", HIGHER, ["1000", "850", "700", "850"], {"pending": 3},
     "on>on risk off risk>risk"),
    ("a breach that worsens on its last evaluation is confirmed at risk", HIGHER, ["1000", "850", "850", "700"],
     {"pending": 3}, "on>on risk risk off>risk"),
    ("a candidate on the other side resets the count", HIGHER, ["850", "850", "850", "700", "950", "700"],
     {"pending": 3}, "risk risk risk>risk off on off"),
    ("margin 0: a value hovering at the warning level flaps", HIGHER, ["899", "901", "899", "901"], {},
     "risk>risk on>on risk>risk on>on"),
    ("margin 5: it does not; recovery needs 945", HIGHER, ["899", "901", "899", "944.99", "945"], {"margin": "5"},
     "risk>risk risk risk risk on>on"),
    ("margin 5: off track → at risk needs 787.50", HIGHER, ["700", "760", "787.49", "787.5"], {"margin": "5"},
     "off>off off off risk>risk"),
    ("margin 0: off track → at risk at the critical level", HIGHER, ["700", "750"], {}, "off>off risk>risk"),
    ("a recovery past both levels is one transition", HIGHER, ["700", "1000"], {"margin": "5"}, "off>off on>on"),
    ("margin never holds back a worsening", HIGHER, ["850", "749"], {"margin": "5"}, "risk>risk off>off"),
    ("linear pacing early: 95 by 10% of the period is on track", HIGHER, ["95", "80", "70"],
     {"pacing": LINEAR, "elapsed": "0.1"}, "on>on risk>risk off>off"),
    # lower is better: CPA, warning 45, critical 50
    ("CPA rises then recovers", LOWER, ["40", "46", "51", "44"], {}, "on>on risk>risk off>off on>on"),
    ("CPA jumps off track, pending 3", LOWER, ["40", "52.10", "52.10", "52.10"], {"pending": 3},
     "on>on off off off>off"),
    ("margin 0: CPA at 45 ± 0.5 flaps", LOWER, ["45.5", "44.5", "45.5", "44.5"], {},
     "risk>risk on>on risk>risk on>on"),
    ("margin 5: it does not; recovery needs 42.75", LOWER, ["45.5", "44.5", "45.5", "42.76", "42.75"],
     {"margin": "5"}, "risk>risk risk risk risk on>on"),
    ("margin 5: off track → at risk needs 47.50", LOWER, ["51", "49", "47.51", "47.5"], {"margin": "5"},
     "off>off off off risk>risk"),
    ("margin 5 and pending 3 together", LOWER, ["51", "51", "51", "47", "44", "43", "42.7", "42.7", "42.7"],
     {"margin": "5", "pending": 3}, "off off off>off risk risk risk>risk on on on>on"),
    # target range: CTR band 20–30, warning 18–33, critical 16–36
    ("CTR leaves the band both ways", RANGE, ["25", "34", "37", "15", "25"], {},
     "on>on risk>risk off>off off on>on"),
    ("margin 5 below the band: recovery needs 18.90", RANGE, ["17", "18", "18.89", "18.9"], {"margin": "5"},
     "risk>risk risk risk on>on"),
    ("margin 5 above the band: recovery needs 31.35", RANGE, ["34", "33", "31.36", "31.35"], {"margin": "5"},
     "risk>risk risk risk on>on"),
    ("margin 0 at the band's edge flaps", RANGE, ["33.1", "32.9", "33.1"], {}, "risk>risk on>on risk>risk"),
    ("a margin wider than the band stops at its middle", RANGE, ["23.5", "22", "21.01", "21"],
     {"margin": "50", "thresholds": NARROW}, "risk>risk risk risk on>on"),
    # no data
    ("policy no_data: a gap is a status", HIGHER, ["1000", None, "1000"], {}, "on>on none>none on>on"),
    ("policy no_data with pending 3", HIGHER, ["1000", None, None, None], {"pending": 3}, "on>on none none none>none"),
    ("a gap breaks a pending breach", HIGHER, ["1000", "700", None, "700"], {"pending": 2}, "on>on off none off"),
    ("keep_last: the last status stands", HIGHER, ["850", None, None, "850"], {"policy": KEEP_LAST},
     "risk>risk risk risk risk"),
    ("keep_last: a gap neither advances nor breaks a pending breach", HIGHER, ["1000", "700", None, "700", None, "700"],
     {"policy": KEEP_LAST, "pending": 3}, "on>on off on off on off>off"),
    ("keep_last before any data: nothing to keep", HIGHER, [None, None, "1000"], {"policy": KEEP_LAST},
     "none none on>on"),
    # policy zero fills the metrics before the formula (the caller); leads with no data arrive here as 0
    ("zero: leads with no data are 0, off track", HIGHER, ["1000", "0"], {"policy": ZERO, "zero_filled": True},
     "on>on off>off"),
    ("zero: a CPA undefined even with zeros is no data, not on track", LOWER, ["40", None], {"policy": ZERO},
     "on>on none>none"),
    ("zero: no data from the first evaluation", LOWER, [None, None], {"policy": ZERO, "pending": 3}, "none>none none"),
    # first evaluation
    ("first evaluation on track is confirmed at once", HIGHER, ["1000"], {"pending": 3}, "on>on"),
    ("first evaluation without data is confirmed at once", HIGHER, [None, "1000", "1000", "1000"], {"pending": 3},
     "none>none on on on>on"),
    ("a first breach goes through pending", HIGHER, ["700", "700", "700"], {"pending": 3}, "off off off>off"),
    ("on track during a first breach's pending confirms at once", HIGHER, ["700", "1000"], {"pending": 3},
     "off on>on"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("direction", "values", "options", "expected"), [pytest.param(*case[1:], id=case[0]) for case in CASES]
)
def test_a_sequence_of_evaluations_fires_the_expected_transitions(direction, values, options, expected):
    decisions = run(values, direction, **options)
    assert story(decisions) == expected
    confirmed = None
    for d in decisions:
        if d.transition:
            assert d.transition.from_status == confirmed, "a transition starts from the confirmed status"
            assert d.transition.reason
            confirmed = d.transition.to_status
        assert d.state.status == confirmed


def test_keep_last_leaves_the_state_exactly_as_it_was():
    pending = run(["1000", "700"], pending=3, policy=KEEP_LAST)[-1].state
    gap = step(pending, None, pending=3, policy=KEEP_LAST, at=5)
    assert gap.state == pending and gap.state.candidate == OFF and gap.state.candidate_count == 1
    assert gap.transition is None and gap.evaluation.status == NO_DATA


def test_since_is_when_the_status_was_confirmed():
    decisions = run(["1000", "850", "850", "850", "800"], pending=3)
    assert [d.state.since for d in decisions] == [START] * 3 + [START + timedelta(hours=3)] * 2


def test_after_a_threshold_edit_the_target_restarts_from_a_clean_state():
    breached = run(["1000", "700", "700", "700", "1000"], pending=3)[-1].state
    assert (breached.status, breached.candidate, breached.candidate_count) == (OFF, ON, 1)
    assert TargetState.initial() == TargetState(None, None, 0, None)
    fresh = run(["1000"], pending=3)[0]
    assert fresh.transition.from_status is None and fresh.transition.to_status == ON
    again = [step(TargetState.initial(), "850", pending=3)]
    again.append(step(again[-1].state, "850", pending=3))
    assert [d.transition for d in again] == [None, None], "a breach after a reset waits its pending period again"


# --- reasons ------------------------------------------------------------------------------------------

REASONS = [
    ("breach after pending", LOWER, ["40", "52.10", "52.10", "52.10"], {"pending": 3},
     "CPA 52.1 has been above the critical level 50 for 3 evaluations"),
    ("at risk, pending 1", HIGHER, ["850"], {}, "leads 850 is below the warning level 900"),
    ("first evaluation on track", LOWER, ["40"], {}, "CPA 40 is at or below the warning level 45"),
    ("recovery with a margin", LOWER, ["51", "47.5"], {"margin": "5"},
     "CPA 47.5 is at or below 47.5 (the critical level 50 with its 5% recovery margin)"),
    ("full recovery with a margin", HIGHER, ["700", "700", "1000", "1000"], {"margin": "5", "pending": 2},
     "leads 1,000 has been at or above 945 (the warning level 900 with its 5% recovery margin) for 2 evaluations"),
    ("recovery without a margin", HIGHER, ["700", "760"], {}, "leads 760 is at or above the critical level 750"),
    ("range breach", RANGE, ["34"], {}, "CTR 34 is outside the range 18 to 33"),
    ("range off track", RANGE, ["37"], {}, "CTR 37 is outside the critical range 16 to 36"),
    ("range recovery with a margin", RANGE, ["34", "31"], {"margin": "5"},
     "CTR 31 is inside 18.9 to 31.35 (the range 18 to 33 with its 5% recovery margin)"),
    ("linear pacing", HIGHER, ["80"], {"pacing": LINEAR, "elapsed": "0.1"},
     "leads 80 is below the warning level 90 (levels paced to 10% of the period)"),
    ("no data", HIGHER, [None], {}, "leads has no data"),
    ("no data for a while", HIGHER, ["1000", None, None], {"pending": 2}, "leads has had no data for 2 evaluations"),
    ("counted as zero", HIGHER, ["0"], {"policy": ZERO, "zero_filled": True},
     "leads 0 is below the critical level 750 (missing data counted as 0)"),
    ("zero, undefined even with zeros", LOWER, [None], {"policy": ZERO}, "CPA has no data"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("direction", "values", "options", "reason"), [pytest.param(*case[1:], id=case[0]) for case in REASONS]
)
def test_every_transition_says_why_with_the_numbers(direction, values, options, reason):
    last = run(values, direction, **options)[-1]
    assert last.transition is not None
    assert last.transition.reason == reason


def test_recovery_levels_move_toward_better_by_the_margin():
    assert recovery_thresholds(HIGHER, LEADS, D(5)) == Thresholds(D(1000), D(945), D("787.5"))
    assert recovery_thresholds(LOWER, CPA, D(5)) == Thresholds(D(40), D("42.75"), D("47.5"))
    band = recovery_thresholds(RANGE, CTR, D(5))
    assert (band.warning, band.warning_high, band.critical, band.critical_high) == (
        D("18.9"),
        D("31.35"),
        D("16.8"),
        D("34.2"),
    )
    assert recovery_thresholds(HIGHER, LEADS, D(0)) == LEADS
    assert recovery_thresholds(HIGHER, LEADS, D(-5)) == LEADS, "a negative margin counts as none"


# --- properties ---------------------------------------------------------------------------------------

leads_values = st.lists(st.none() | st.decimals(min_value=0, max_value=1200, places=0), min_size=1, max_size=25)
pendings = st.integers(min_value=1, max_value=4)
any_finite = st.decimals(allow_nan=False, allow_infinity=False)


def far_enough(observed: Status, confirmed: Status | None, to: Status) -> bool:
    """The observation points from `confirmed` at least as far as `to`, the same way."""
    if to == NO_DATA or observed == NO_DATA:
        return observed == to
    if confirmed in (None, NO_DATA):
        return observed == to if to == ON else severity(observed) >= severity(to) >= 1
    if severity(to) > severity(confirmed):
        return severity(observed) >= severity(to)
    return severity(observed) <= severity(to)


@settings(max_examples=400, deadline=None)
@given(leads_values, pendings, st.sampled_from([NO_DATA_POLICY, ZERO]))
def test_no_transition_fires_before_n_consecutive_observations_that_support_it(values, pending, policy):
    decisions = run([None if v is None else str(v) for v in values], pending=pending, policy=policy)
    confirmed, since = None, 0
    for i, d in enumerate(decisions):
        if d.transition is None:
            continue
        to = d.transition.to_status
        if not (confirmed is None and to in (ON, NO_DATA)):  # a first look at nothing wrong confirms at once
            window = decisions[i - pending + 1 : i + 1]
            assert i - pending + 1 >= since, "the observations all came after the last transition"
            assert all(far_enough(w.observed, confirmed, to) for w in window)
        confirmed, since = to, i + 1


@settings(max_examples=200, deadline=None)
@given(leads_values, pendings)
def test_policy_zero_never_turns_a_missing_value_into_0(values, pending):
    """The zeros go into the metrics before the formula; a value still missing is no data, as under no_data."""
    values = [None if v is None else str(v) for v in values]
    assert story(run(values, pending=pending, policy=ZERO)) == story(run(values, pending=pending))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([ON, AT_RISK, OFF, NO_DATA]),
    st.sampled_from([("1000", ON), ("850", AT_RISK), ("700", OFF), (None, NO_DATA)]),
    pendings,
)
def test_n_equal_observations_confirm_that_status_on_the_nth(confirmed, observation, pending):
    value, status = observation
    state, fired = TargetState(confirmed, None, 0, START), []
    for at in range(pending):
        d = step(state, value, pending=pending, at=at)
        fired.append(d.transition)
        state = d.state
    if status == confirmed:
        assert fired == [None] * pending
    else:
        assert fired[:-1] == [None] * (pending - 1)
        assert (fired[-1].from_status, fired[-1].to_status) == (confirmed, status)


@settings(max_examples=600, deadline=None)
@given(
    st.data(),
    st.sampled_from(list(Direction)),
    st.sampled_from(list(Pacing)),
    st.sampled_from(list(NoDataPolicy)),
    st.none() | any_finite,
    st.integers(min_value=-3, max_value=10),
)
def test_decide_never_raises_for_finite_inputs(data, direction, pacing, policy, value, pending):
    levels = data.draw(st.lists(any_finite, min_size=6, max_size=6))
    thresholds = Thresholds(*levels) if direction == RANGE else Thresholds(*levels[:3])
    previous = TargetState(
        data.draw(st.none() | st.sampled_from(list(Status))),
        data.draw(st.none() | st.sampled_from(list(Status))),
        data.draw(st.integers(min_value=0, max_value=10)),
        data.draw(st.none() | st.just(START)),
    )
    d = decide(
        previous,
        value=value,
        direction=direction,
        thresholds=thresholds,
        pacing=pacing,
        elapsed=data.draw(any_finite),
        pending_evaluations=pending,
        recovery_margin_pct=data.draw(any_finite),
        no_data_policy=policy,
        name="the value",
        now=START + timedelta(days=1),
    )
    assert isinstance(d.observed, Status)
    if d.transition is not None:
        assert d.transition.reason and d.transition.to_status == d.state.status


@settings(max_examples=400, deadline=None)
@given(leads_values, pendings, st.sampled_from(list(NoDataPolicy)), st.decimals(min_value=0, max_value=50, places=1))
def test_after_a_transition_there_is_no_candidate_and_without_one_the_status_stands(values, pending, policy, margin):
    state = TargetState.initial()
    for at, value in enumerate(values):
        d = step(
            state, None if value is None else str(value), pending=pending, policy=policy, margin=str(margin), at=at
        )
        if d.transition is not None:
            assert (d.state.candidate, d.state.candidate_count, d.state.since) == (None, 0, START + timedelta(hours=at))
        else:
            assert (d.state.status, d.state.since) == (state.status, state.since)
            assert (d.state.candidate is None) == (d.state.candidate_count == 0)
        state = d.state


SPANS = {HIGHER: (600, 1100), LOWER: (30, 60), RANGE: (10, 40)}


@settings(max_examples=400, deadline=None)
@given(
    st.data(),
    st.sampled_from([AT_RISK, OFF]),
    st.sampled_from([HIGHER, LOWER, RANGE]),
    st.decimals(min_value=0, max_value=100, places=1),
)
def test_a_margin_only_delays_recovery(data, confirmed, direction, margin):
    low, high = SPANS[direction]
    value = data.draw(st.decimals(min_value=low, max_value=high, places=2))
    state = TargetState(confirmed, None, 0, START)
    raw = step(state, str(value), direction).observed
    held = step(state, str(value), direction, margin=str(margin)).observed
    assert severity(raw) <= severity(held) <= max(severity(raw), severity(confirmed))
    if margin == 0:
        assert held == raw
