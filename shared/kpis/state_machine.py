"""The alert state machine of one KPI target: when an evaluation's status becomes the confirmed one. Pure, no I/O.

Like the pending period of Prometheus or Grafana alert rules, a new status must hold for
`pending_evaluations` evaluations in a row before it is confirmed (a `Transition`), and like their
hysteresis, a recovering value must clear the level it recovers past by `recovery_margin_pct` % of that
level, so a value hovering at a threshold does not flap. The rules, as tables, are in
docs/domains/alert-state-machine.md; the worker's evaluation job (shared/alerts/evaluate.py) persists the
`TargetState` and turns transitions into alerts.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from shared.kpis.evaluation import (
    Direction,
    Evaluation,
    Pacing,
    Status,
    Thresholds,
    evaluate,
    severity,
    worse,
)
from shared.kpis.models import NoDataPolicy
from shared.numbers import show_number  # the number style of evaluate()'s reasons: both sentences read alike

_ZERO, _ONE, _HUNDRED = Decimal(0), Decimal(1), Decimal(100)
_BREACHES = (Status.at_risk, Status.off_track)


@dataclass(frozen=True)
class TargetState:
    """What the state machine remembers about one target between evaluations."""

    status: Status | None = None  # the confirmed status (None: never evaluated)
    candidate: Status | None = None  # a different status currently being observed
    candidate_count: int = 0  # consecutive evaluations it has held
    since: datetime | None = None  # when `status` was confirmed

    @classmethod
    def initial(cls) -> "TargetState":
        """A target never evaluated; also the state to restart from after its thresholds, or its KPI's formula or
        dimension filter, are edited."""
        return cls()


@dataclass(frozen=True)
class Transition:
    """A confirmed change of status, with the reason in one sentence with the numbers."""

    from_status: Status | None
    to_status: Status
    reason: str


@dataclass(frozen=True)
class Decision:
    """The outcome of one evaluation of one target."""

    evaluation: Evaluation  # what evaluate() said about the value
    observed: Status  # the status this evaluation points to (after hysteresis)
    state: TargetState  # the new state to persist
    transition: Transition | None


# --- hysteresis ---------------------------------------------------------------------------------------


def _filled(t: Thresholds) -> Thresholds:
    """A range's missing upper levels filled in the way evaluate() reads them."""
    high = t.target if t.target_high is None else t.target_high
    warn_high = high if t.warning_high is None else t.warning_high
    crit_high = warn_high if t.critical_high is None else t.critical_high
    return replace(t, target_high=high, warning_high=warn_high, critical_high=crit_high)


def recovery_thresholds(direction: Direction, thresholds: Thresholds, margin_pct: Decimal) -> Thresholds:
    """The levels a recovering value must clear: each moved toward "better" by margin_pct % of itself.

    A range's bands shrink from both ends, but never past their middle (a margin wider than the band would
    otherwise make recovery impossible). On an arithmetic overflow the levels are left as they are.
    """
    m = max(margin_pct, _ZERO) / _HUNDRED if margin_pct.is_finite() else _ZERO
    if m == 0:
        return thresholds
    try:
        t = thresholds
        if direction == Direction.higher_is_better:
            return replace(t, warning=t.warning + abs(t.warning) * m, critical=t.critical + abs(t.critical) * m)
        if direction == Direction.lower_is_better:
            return replace(t, warning=t.warning - abs(t.warning) * m, critical=t.critical - abs(t.critical) * m)
        t = _filled(t)
        warning_high, critical_high = t.warning_high, t.critical_high
        assert warning_high is not None and critical_high is not None  # _filled fills them
        w_mid, c_mid = (t.warning + warning_high) / 2, (t.critical + critical_high) / 2
        return replace(
            t,
            warning=min(t.warning + abs(t.warning) * m, w_mid),
            warning_high=max(warning_high - abs(warning_high) * m, w_mid),
            critical=min(t.critical + abs(t.critical) * m, c_mid),
            critical_high=max(critical_high - abs(critical_high) * m, c_mid),
        )
    except ArithmeticError:
        return thresholds


def _rank(status: Status) -> int:
    """`severity` of a status known to be on its scale (not no_data)."""
    rank = severity(status)
    assert rank is not None, f"{status} has no severity"
    return rank


def _is_better(a: Status, b: Status | None) -> bool:
    sa, sb = severity(a), None if b is None else severity(b)
    return sa is not None and sb is not None and sa < sb


# --- pending ------------------------------------------------------------------------------------------


def _side(observed: Status, confirmed: Status | None) -> str:
    """Which way an observation leads from the confirmed status: "worse", "better" or "no_data"."""
    if observed == Status.no_data:
        return "no_data"
    if confirmed is None or confirmed == Status.no_data:
        return "worse" if observed in _BREACHES else "better"
    return "worse" if _rank(observed) > _rank(confirmed) else "better"


def _nearer(a: Status, b: Status, side: str) -> Status:
    """Of two observations on the same side, the one nearer the confirmed status: what both support."""
    if side == "worse":
        return a if _rank(a) <= _rank(b) else b
    return worse(a, b)


# --- reasons ------------------------------------------------------------------------------------------


def _level(direction: Direction, t: Thresholds, kind: str, scale: Decimal) -> tuple[str, str]:
    """('the warning level', '450') or ('the critical range', '15 to 36'): a level as paced, for a sentence."""
    if direction == Direction.target_range:
        t = _filled(t)
        low, high = (t.warning, t.warning_high) if kind == "warning" else (t.critical, t.critical_high)
        assert high is not None  # _filled fills it
        where = "the range" if kind == "warning" else "the critical range"
        return where, f"{show_number(low)} to {show_number(high)}"
    return f"the {kind} level", show_number(getattr(t, kind) * scale)


def _reason(
    *,
    to: Status,
    came_from: Status | None,
    count: int,
    value: Decimal | None,
    name: str,
    direction: Direction,
    thresholds: Thresholds,
    strict: Thresholds,
    margin_pct: Decimal,
    scale: Decimal,
    zero_filled: bool,
) -> str:
    """One sentence with the value, the level that decided and how many evaluations it held."""
    held = f" for {count} evaluations" if count > 1 else ""
    if to == Status.no_data or value is None:
        return f"{name} has had no data{held}" if count > 1 else f"{name} has no data"
    recovering = came_from in _BREACHES and _is_better(to, came_from)
    # The level named is the one crossed: into at_risk past warning, out of off_track past critical.
    kind = "warning" if to == Status.on_track or (to == Status.at_risk and not recovering) else "critical"
    label, numbers = _level(direction, thresholds, kind, scale)
    is_range, higher = direction == Direction.target_range, direction == Direction.higher_is_better
    if to == Status.on_track or recovering:  # the value cleared a level
        where = f"{label} {numbers}"
        if recovering and margin_pct > 0:
            cleared = _level(direction, strict, kind, scale)[1]
            where = f"{cleared} ({where} with its {show_number(margin_pct)}% recovery margin)"
        phrase = f"inside {where}" if is_range else f"at or {'above' if higher else 'below'} {where}"
    else:
        phrase = f"{'outside' if is_range else 'below' if higher else 'above'} {label} {numbers}"
    paced = f" (levels paced to {show_number(scale * _HUNDRED)}% of the period)" if scale < 1 else ""
    zero = " (missing data counted as 0)" if zero_filled else ""
    return f"{name} {show_number(value)} {'has been' if count > 1 else 'is'} {phrase}{held}{paced}{zero}"


# --- the decision -------------------------------------------------------------------------------------


def decide(
    previous: TargetState,
    *,
    value: Decimal | None,
    direction: Direction,
    thresholds: Thresholds,
    pacing: Pacing,
    elapsed: Decimal,
    pending_evaluations: int,
    recovery_margin_pct: Decimal,
    no_data_policy: NoDataPolicy,
    zero_filled: bool = False,
    name: str = "the value",
    now: datetime,
) -> Decision:
    """The next state of one target after one evaluation of its value, and the transition it fires, if any.

    Policy `zero` is applied by the caller to the metrics, before the formula (`kpi_values(…, zero_filled=…)`):
    a value still None is undefined even with zeros (spend ÷ 0 conversions), so it is no data here, as under
    policy `no_data`. `zero_filled`: the value counted some metric without data as 0 (said in the reason).
    """
    pending = max(pending_evaluations, 1)
    margin = recovery_margin_pct if recovery_margin_pct.is_finite() and recovery_margin_pct > 0 else _ZERO
    if value is not None and not value.is_finite():
        value = None

    def judged(levels: Thresholds) -> Evaluation:
        return evaluate(value=value, thresholds=levels, direction=direction, pacing=pacing, elapsed=elapsed, name=name)

    evaluation = judged(thresholds)
    confirmed = previous.status
    if value is None and no_data_policy == NoDataPolicy.keep_last:
        # Nothing new to judge: the confirmed status stands, a pending change neither advances nor resets.
        return Decision(evaluation, confirmed or Status.no_data, previous, None)

    observed, strict = evaluation.status, thresholds
    if confirmed in _BREACHES and _is_better(observed, confirmed):
        strict = recovery_thresholds(direction, thresholds, margin)
        held_back = worse(observed, judged(strict).status)
        # The margin only delays a recovery: it never makes the status worse than the confirmed one.
        observed = confirmed if _rank(held_back) > _rank(confirmed) else held_back

    if observed == confirmed:
        return Decision(evaluation, observed, replace(previous, candidate=None, candidate_count=0), None)
    to: Status
    if confirmed is None and observed in (Status.on_track, Status.no_data):
        to, count = observed, 1  # a first look that finds nothing wrong needs no confirming
    else:
        side, candidate = _side(observed, confirmed), previous.candidate
        if candidate is not None and candidate != confirmed and _side(candidate, confirmed) == side:  # a streak
            to, count = _nearer(candidate, observed, side), previous.candidate_count + 1
        else:
            to, count = observed, 1
        if count < pending:
            return Decision(evaluation, observed, replace(previous, candidate=to, candidate_count=count), None)

    linear = pacing == Pacing.linear and direction != Direction.target_range
    reason = _reason(
        to=to,
        came_from=confirmed,
        count=count,
        value=value,
        name=name,
        direction=direction,
        thresholds=thresholds,
        strict=strict,
        margin_pct=margin,
        scale=min(max(elapsed, _ZERO), _ONE) if linear else _ONE,
        zero_filled=zero_filled and value is not None,
    )
    state = TargetState(status=to, candidate=None, candidate_count=0, since=now)
    return Decision(evaluation, observed, state, Transition(confirmed, to, reason))
