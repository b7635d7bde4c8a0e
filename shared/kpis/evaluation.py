"""KPI evaluation: resolve thresholds, pace them, and decide a value's status. Pure, no I/O.

The rules, as tables, are in docs/domains/kpi-evaluation.md. In short:

- The value is the KPI's formula over its metrics, each aggregated over the window first
  (shared/metrics/aggregation.py: "ratios are ratios of sums").
- Thresholds are absolute values; percent-mode inputs are converted once by `resolve_thresholds`.
- With linear pacing the target *and* the thresholds are scaled by the elapsed fraction of the period.
"""

import enum
import itertools
from dataclasses import dataclass
from decimal import Context, Decimal

from shared.numbers import show_number

_ZERO, _ONE, _TEN, _HUNDRED = Decimal(0), Decimal(1), Decimal(10), Decimal(100)
_CENTS = Decimal("0.01")
# 14/30 of a period is not exact in Decimal; rounding results to 20 significant digits drops the noise.
_TIDY = Context(prec=20)


class Direction(enum.StrEnum):
    higher_is_better = "higher_is_better"
    lower_is_better = "lower_is_better"
    target_range = "target_range"


class Pacing(enum.StrEnum):
    linear = "linear"
    none = "none"


class Status(enum.StrEnum):
    on_track = "on_track"
    at_risk = "at_risk"
    off_track = "off_track"
    no_data = "no_data"


class ThresholdMode(enum.StrEnum):
    absolute = "absolute"
    percent = "percent"


# --- thresholds ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Absolute levels. For a target range `target`/`warning`/`critical` are the low ends, `*_high` the high."""

    target: Decimal
    warning: Decimal
    critical: Decimal
    target_high: Decimal | None = None
    warning_high: Decimal | None = None
    critical_high: Decimal | None = None


def _from_percent(bound: Decimal | None, pct: Decimal | None, widen: int) -> Decimal | None:
    if bound is None or pct is None:
        return None
    if widen == 0:  # higher/lower: pct% of the target, measured from it so a negative target works too
        return bound + abs(bound) * (pct - _HUNDRED) / _HUNDRED
    return bound + widen * abs(bound) * pct / _HUNDRED  # a range's bound moved outward by pct% of itself


def resolve_thresholds(
    direction: Direction,
    *,
    target: Decimal,
    target_high: Decimal | None = None,
    warning: Decimal | None = None,
    critical: Decimal | None = None,
    warning_high: Decimal | None = None,
    critical_high: Decimal | None = None,
    mode: ThresholdMode = ThresholdMode.absolute,
) -> Thresholds:
    """Absolute thresholds from what was given (absolute or % of target), with defaults for the rest."""
    is_range = direction == Direction.target_range
    if mode == ThresholdMode.percent:
        if is_range:  # symmetric unless the high side is given its own percentage
            warning_high = warning if warning_high is None else warning_high
            critical_high = critical if critical_high is None else critical_high
        warning = _from_percent(target, warning, -1 if is_range else 0)
        critical = _from_percent(target, critical, -1 if is_range else 0)
        warning_high = _from_percent(target_high, warning_high, 1)
        critical_high = _from_percent(target_high, critical_high, 1)
    warning = target if warning is None else warning
    # A missing critical level lies a further 10% of the target beyond the warning level.
    if direction == Direction.lower_is_better:
        critical = warning + abs(target) / _TEN if critical is None else critical
    else:
        critical = warning - abs(target) / _TEN if critical is None else critical
    if is_range and target_high is not None:
        warning_high = target_high if warning_high is None else warning_high
        critical_high = warning_high + abs(target_high) / _TEN if critical_high is None else critical_high
    return Thresholds(target, warning, critical, target_high, warning_high, critical_high)


_RANGE_CHAIN = (
    ("critical", "the lower critical level"),
    ("warning", "the lower warning level"),
    ("target", "the lower target"),
    ("target_high", "the upper target"),
    ("warning_high", "the upper warning level"),
    ("critical_high", "the upper critical level"),
)


def validate_thresholds(direction: Direction, thresholds: Thresholds) -> list[str]:
    """What is wrong with these thresholds for this direction, in words; empty when they are valid."""
    levels = {field: getattr(thresholds, field) for field, _ in _RANGE_CHAIN}
    problems = [f"{f} must be a finite number" for f, v in levels.items() if v is not None and not v.is_finite()]
    if problems:
        return problems
    t, w, c = thresholds.target, thresholds.warning, thresholds.critical
    if direction == Direction.target_range:
        if thresholds.target_high is None:
            return ["a target range needs an upper target (target_high)"]
        problems += [f"a target range needs {f}" for f in ("warning_high", "critical_high") if levels[f] is None]
        chain = [(levels[field], name) for field, name in _RANGE_CHAIN if levels[field] is not None]
        for (a, a_name), (b, b_name) in itertools.pairwise(chain):
            if a > b:
                problems.append(f"{a_name} {show_number(a)} must not be above {b_name} {show_number(b)}")
        return problems
    high_sides = ("target_high", "warning_high", "critical_high")
    problems += [f"{f} is only for target ranges" for f in high_sides if levels[f] is not None]
    if direction == Direction.higher_is_better:
        if w > t:
            problems.append(f"the warning level {show_number(w)} must not be above the target {show_number(t)}")
        if c > w:
            problems.append(f"the critical level {show_number(c)} must not be above the warning level {show_number(w)}")
    else:
        if w < t:
            problems.append(f"the warning level {show_number(w)} must not be below the target {show_number(t)}")
        if c < w:
            problems.append(f"the critical level {show_number(c)} must not be below the warning level {show_number(w)}")
    return problems


def validate_target(direction: Direction, pacing: Pacing, thresholds: Thresholds) -> list[str]:
    """Problems with a KPI target as a whole: its thresholds, and pacing that does not fit the direction."""
    problems = validate_thresholds(direction, thresholds)
    if direction == Direction.target_range and pacing == Pacing.linear:
        problems.append("a target range cannot be paced linearly: use pacing none")
    return problems


# --- status -------------------------------------------------------------------------------------------

_SEVERITY = {Status.on_track: 0, Status.at_risk: 1, Status.off_track: 2}


def severity(status: Status) -> int | None:
    """on_track 0 < at_risk 1 < off_track 2; None for no_data, which is not on that scale."""
    return _SEVERITY.get(Status(status))


def worse(a: Status, b: Status) -> Status:
    """The worse of two statuses; no_data yields to any real status (missing data never hides a problem)."""
    sa, sb = severity(a), severity(b)
    if sa is None or sb is None:
        return Status(b) if sa is None else Status(a)
    return Status(a) if sa >= sb else Status(b)


@dataclass(frozen=True)
class Evaluation:
    """A KPI's value against its target at one moment, and what that means."""

    value: Decimal | None
    expected_to_date: Decimal | None
    forecast: Decimal | None
    attainment_pct: Decimal | None
    status: Status
    reason: str


def _tidy(x: Decimal) -> Decimal:
    try:
        x = _TIDY.plus(x)
        return x.quantize(_ONE) if x == x.to_integral_value() else x.normalize()
    except ArithmeticError:
        return x


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """100 × part ÷ whole to two places; only for a positive whole (a ratio of negatives says nothing)."""
    if whole <= 0:
        return None
    try:
        return (part * _HUNDRED / whole).quantize(_CENTS)
    except ArithmeticError:  # too large to write with two places
        return None


def _when(pacing: Pacing, elapsed: Decimal, day_of: tuple[int, int] | None) -> str:
    if pacing != Pacing.linear:
        return ""
    if day_of is not None:
        return f" expected by day {day_of[0]} of {day_of[1]}"
    return f" expected at {show_number(elapsed * _HUNDRED)}% of the period"


def evaluate(
    *,
    value: Decimal | None,
    direction: Direction,
    thresholds: Thresholds,
    pacing: Pacing,
    elapsed: Decimal,
    name: str = "the value",
    day_of: tuple[int, int] | None = None,
) -> Evaluation:
    """Value, expected to date, forecast, attainment and status of a KPI, with the reason in one sentence.

    `elapsed` is `shared.periods.elapsed_fraction(...)` (clamped to 0..1); `name` and `day_of` (`day_of_period`) only
    make the reason read well. A target range ignores pacing (validate_target refuses linear for it).
    """
    elapsed = min(max(elapsed, _ZERO), _ONE)
    if direction == Direction.target_range:
        return _evaluate_range(value, thresholds, name)
    scale = elapsed if pacing == Pacing.linear else _ONE
    expected = _tidy(thresholds.target * scale)
    if value is None or not value.is_finite():
        return Evaluation(None, expected, None, None, Status.no_data, f"{name} has no data yet")
    forecast: Decimal | None = value
    if pacing == Pacing.linear:
        try:
            forecast = _tidy(value / elapsed) if elapsed > 0 else None
        except ArithmeticError:
            forecast = None
    warn, crit = _tidy(thresholds.warning * scale), _tidy(thresholds.critical * scale)
    when = _when(pacing, elapsed, day_of)
    shown = f"{name} {show_number(value)}"
    if direction == Direction.higher_is_better:
        attainment = _percent(value, expected)
        if value >= warn:
            status, reason = Status.on_track, f"{shown} is at or above the warning level {show_number(warn)}{when}"
        elif value >= crit:
            status, reason = Status.at_risk, f"{shown} is below the warning level {show_number(warn)}{when}"
        else:
            status, reason = Status.off_track, f"{shown} is below the critical level {show_number(crit)}{when}"
    else:
        attainment = _percent(expected, value) if value > 0 and expected > 0 else None
        if value <= warn:
            status, reason = Status.on_track, f"{shown} is at or below the warning level {show_number(warn)}{when}"
        elif value <= crit:
            status, reason = Status.at_risk, f"{shown} is above the warning level {show_number(warn)}{when}"
        else:
            status, reason = Status.off_track, f"{shown} is above the critical level {show_number(crit)}{when}"
    return Evaluation(value, expected, forecast, attainment, status, reason)


def _evaluate_range(value: Decimal | None, t: Thresholds, name: str) -> Evaluation:
    if value is None or not value.is_finite():
        return Evaluation(None, None, None, None, Status.no_data, f"{name} has no data yet")
    low, high = t.target, t.target_high if t.target_high is not None else t.target
    warn_low, warn_high = t.warning, t.warning_high if t.warning_high is not None else high
    crit_low, crit_high = t.critical, t.critical_high if t.critical_high is not None else warn_high
    if low <= value <= high:
        attainment: Decimal | None = _HUNDRED.quantize(_CENTS)
    elif value < low:
        attainment = _percent(value, low)
    else:
        attainment = _percent(high, value) if high > 0 else None
    warn_band = f"{show_number(warn_low)} to {show_number(warn_high)}"
    crit_band = f"{show_number(crit_low)} to {show_number(crit_high)}"
    shown = f"{name} {show_number(value)}"
    if warn_low <= value <= warn_high:
        status, reason = Status.on_track, f"{shown} is inside the range {warn_band}"
    elif crit_low <= value <= crit_high:
        status, reason = Status.at_risk, f"{shown} is outside the range {warn_band} but inside {crit_band}"
    else:
        status, reason = Status.off_track, f"{shown} is outside the critical range {crit_band}"
    return Evaluation(value, None, value, attainment, status, reason)
