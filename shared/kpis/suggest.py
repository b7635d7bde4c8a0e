"""Suggested targets from a KPI's own history: deterministic, with the method and numbers shown.

Method: the KPI's value in each of the trailing periods of the same length (oldest first, None where a
period has no data). With fewer than three known values there is not enough history. Otherwise the
least-squares trend over the known values, at their true positions (a gap stays a gap), is projected to
the next period. When the same period one year earlier is known, the projection is scaled by its seasonal
factor: its value ÷ the centred mean of the periods around it (k before and k after, taken in pairs whose
both ends are known). A centred mean of a straight line is the line's value in the middle, so a trend alone
gives a factor of exactly 1: only what stands out from its neighbours counts as season (ratio to a centred
moving average). Thresholds sit one and two standard deviations of the history on the worse side of the
target; for a target range the band is one standard deviation either side, critical two.
"""

from dataclasses import dataclass
from decimal import Decimal
from math import isfinite
from statistics import fmean, pstdev

from shared.kpis.evaluation import Direction
from shared.numbers import plain_number

MIN_PERIODS = 3
PLACES = -4  # four decimal places…
SIGNIFICANT = 15  # …but never more significant digits than a float carries (so huge values never overflow)


@dataclass(frozen=True)
class Suggestion:
    target: Decimal
    warning: Decimal
    critical: Decimal
    method: str
    numbers: dict[str, object]
    target_high: Decimal | None = None
    warning_high: Decimal | None = None
    critical_high: Decimal | None = None

    @property
    def levels(self) -> list[Decimal]:
        """Every level given (the *_high ones only for a target range)."""
        found = (self.target, self.warning, self.critical, self.target_high, self.warning_high, self.critical_high)
        return [v for v in found if v is not None]


def _q(value: float) -> Decimal:
    """Four decimal places, or fewer significant digits for a very large value (1.23456789012345E+30)."""
    exact = Decimal(repr(value))
    return exact.quantize(Decimal(1).scaleb(max(PLACES, exact.adjusted() - SIGNIFICANT + 1)))


def trend(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (intercept, slope) of y over x for (x, y) points."""
    mean_x, mean_y = fmean(x for x, _ in points), fmean(y for _, y in points)
    var_x = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var_x if var_x else 0.0
    return mean_y - slope * mean_x, slope


@dataclass(frozen=True)
class Season:
    factor: float
    value: float  # the same period a year ago
    centred_mean: float  # the mean of the complete pairs around it
    pairs: int


def seasonal_factor(around: list[Decimal | None]) -> Season | None:
    """The middle value ÷ the mean of the symmetric pairs around it whose both ends are known.

    `around` is k periods, the period, k periods (odd length). None when the middle or every pair is unknown,
    or when a ratio means nothing (a centred mean ≤ 0, a negative value): season is a multiple of a level."""
    if len(around) < 3 or len(around) % 2 == 0:
        return None
    half = len(around) // 2
    centre = around[half]
    pairs = [(around[half - k], around[half + k]) for k in range(1, half + 1)]
    known = [float(v) for a, b in pairs if a is not None and b is not None for v in (a, b)]
    if centre is None or not known:
        return None
    mean = fmean(known)
    if not isfinite(mean) or mean <= 0 or centre < 0:
        return None
    factor = float(centre) / mean
    return Season(factor, float(centre), mean, len(known) // 2) if isfinite(factor) else None


def suggest_target(
    history: list[Decimal | None],
    direction: Direction,
    *,
    last_year_around: list[Decimal | None] | None = None,
) -> Suggestion | None:
    """A proposed target and thresholds for the period after `history` (trailing periods, oldest first,
    None where a period has no data); None with too little history (or values a float cannot hold).

    `last_year_around`: the same period a year ago in the middle, with as many periods either side."""
    points = [(float(x), float(v)) for x, v in enumerate(history) if v is not None]
    if len(points) < MIN_PERIODS or not all(isfinite(y) for _, y in points):
        return None
    known = [y for _, y in points]
    try:
        mean, spread = fmean(known), pstdev(known)
        intercept, slope = trend(points)
        season = seasonal_factor(last_year_around or [])
    except OverflowError:  # values near the float limit: nothing sensible to suggest
        return None
    trended = intercept + slope * len(history)
    projected = trended * season.factor if season else trended
    if not all(isfinite(x) for x in (mean, slope, trended, projected, projected - 2 * spread, projected + 2 * spread)):
        return None
    gaps = len(history) - len(points)
    numbers: dict[str, object] = {
        "periods_used": len(points),
        "history": [None if v is None else _q(float(v)) for v in history],
        "mean": _q(mean),
        "trend_per_period": _q(slope),
        "projected": _q(trended),
    }
    method = (
        f"least-squares trend over the last {len(history)} periods"
        + (f" ({gaps} without data left out, the others at their true positions)" if gaps else "")
        + f": {plain_number(_q(slope))} a period, projected one period ahead to {plain_number(_q(trended))}"
    )
    if season is not None:
        numbers["seasonal_factor"] = _q(season.factor)
        numbers["same_period_last_year"] = _q(season.value)
        numbers["centred_mean_last_year"] = _q(season.centred_mean)
        numbers["projected_with_season"] = _q(projected)
        method += (
            f"; scaled by the seasonal factor {plain_number(_q(season.factor))} (the same period a year ago, "
            f"{plain_number(_q(season.value))}, ÷ {plain_number(_q(season.centred_mean))}, the mean of the "
            f"{2 * season.pairs} periods centred on it) to {plain_number(_q(projected))}"
        )
    numbers["std_dev"] = _q(spread)
    if direction == Direction.target_range:
        method += "; the range is one standard deviation of the history either side, critical two"
        return Suggestion(
            target=_q(projected - spread),
            target_high=_q(projected + spread),
            warning=_q(projected - spread),
            warning_high=_q(projected + spread),
            critical=_q(projected - 2 * spread),
            critical_high=_q(projected + 2 * spread),
            method=method,
            numbers=numbers,
        )
    worse = 1 if direction == Direction.lower_is_better else -1
    method += "; warning one standard deviation of the history on the worse side, critical two"
    return Suggestion(
        target=_q(projected),
        warning=_q(projected + worse * spread),
        critical=_q(projected + worse * 2 * spread),
        method=method,
        numbers=numbers,
    )
