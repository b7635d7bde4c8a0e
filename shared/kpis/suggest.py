"""Suggested targets from a KPI's own history: deterministic, with the method and numbers shown.

Method: the KPI's value in each of the trailing periods of the same length (oldest first). With fewer than
three there is not enough history. Otherwise the least-squares trend over those periods is projected one
period ahead; when the same period one year earlier is known too, the projection is scaled by that
period's seasonal factor (its value ÷ the mean of the periods around it a year ago). Thresholds sit one
and two standard deviations of the history on the worse side of the target (for the KPI's direction).
"""

from dataclasses import dataclass
from decimal import Decimal
from statistics import fmean, pstdev

from shared.kpis.evaluation import Direction

MIN_PERIODS = 3
PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Suggestion:
    target: Decimal
    warning: Decimal
    critical: Decimal
    method: str
    numbers: dict[str, object]


def _q(value: float) -> Decimal:
    return Decimal(str(value)).quantize(PLACES)


def trend(values: list[float]) -> tuple[float, float]:
    """Least-squares (intercept, slope) over x = 0..n-1."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, fmean(values)
    var_x = sum((x - mean_x) ** 2 for x in range(n))
    slope = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values)) / var_x if var_x else 0.0
    return mean_y - slope * mean_x, slope


def suggest_target(
    history: list[Decimal | None],
    direction: Direction,
    *,
    same_period_last_year: Decimal | None = None,
    last_year_neighbours: list[Decimal] | None = None,
) -> Suggestion | None:
    """A proposed target and thresholds from trailing periods (oldest first); None with too little history."""
    known = [float(v) for v in history if v is not None]
    if len(known) < MIN_PERIODS:
        return None
    intercept, slope = trend(known)
    projected = intercept + slope * len(known)
    numbers: dict[str, object] = {
        "periods_used": len(known),
        "history": [_q(v) for v in known],
        "mean": _q(fmean(known)),
        "trend_per_period": _q(slope),
        "projected": _q(projected),
    }
    method = f"least-squares trend over the last {len(known)} periods, projected one period ahead"
    neighbours = [float(v) for v in (last_year_neighbours or []) if v is not None]
    if same_period_last_year is not None and neighbours and fmean(neighbours) != 0:
        factor = float(same_period_last_year) / fmean(neighbours)
        projected *= factor
        numbers["seasonal_factor"] = _q(factor)
        numbers["projected_with_season"] = _q(projected)
        method += ", scaled by the same period's seasonal factor a year ago"
    spread = pstdev(known)
    numbers["std_dev"] = _q(spread)
    if direction == Direction.lower_is_better:
        warning, critical = projected + spread, projected + 2 * spread
    else:
        warning, critical = projected - spread, projected - 2 * spread
    return Suggestion(_q(projected), _q(warning), _q(critical), method, numbers)
