"""KPI values over date windows, computed from the daily metric roll-ups in bulk.

Each metric is aggregated over the window by its own aggregation (ratios are ratios of sums), then the
KPI's formula is applied. One query for the metric definitions and one for the roll-up rows, whatever the
number of KPIs and windows; dimension filters are applied to the rows in Python.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.kpis.evaluation import (
    Aggregation,
    Evaluation,
    Thresholds,
    aggregate,
    day_of_period,
    elapsed_fraction,
    evaluate,
    resolve_thresholds,
)
from shared.kpis.formula import parse_formula
from shared.kpis.models import Kpi, KpiTarget, MetricDaily, MetricDefinition


@dataclass(frozen=True)
class Window:
    kpi_id: uuid.UUID
    start: date
    end: date  # inclusive


def _matches(dimensions: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(dimensions.get(key) == value for key, value in wanted.items())


async def kpi_values(
    session: AsyncSession, kpis: Iterable[Kpi], windows: Iterable[Window]
) -> dict[Window, Decimal | None]:
    """The value of each KPI over each of its windows (None where there is no data)."""
    by_id = {kpi.id: kpi for kpi in kpis}
    windows = list(windows)
    if not windows:
        return {}
    formulas = {kpi_id: parse_formula(kpi.formula) for kpi_id, kpi in by_id.items()}
    metric_keys = set().union(*(formulas[w.kpi_id].metrics for w in windows))
    if not metric_keys:
        return {w: formulas[w.kpi_id].evaluate({}) for w in windows}
    aggregations = dict(
        (
            await session.execute(
                select(MetricDefinition.key, MetricDefinition.aggregation).where(MetricDefinition.key.in_(metric_keys))
            )
        ).all()
    )
    rows = (
        await session.execute(
            select(MetricDaily.metric_key, MetricDaily.day, MetricDaily.dimensions, MetricDaily.value).where(
                MetricDaily.metric_key.in_(metric_keys),
                MetricDaily.day >= min(w.start for w in windows),
                MetricDaily.day <= max(w.end for w in windows),
            )
        )
    ).all()
    by_metric: dict[str, list[tuple[date, dict, Decimal]]] = defaultdict(list)
    for key, day, dimensions, value in rows:
        by_metric[key].append((day, dimensions or {}, Decimal(value)))

    values: dict[Window, Decimal | None] = {}
    for window in windows:
        kpi = by_id[window.kpi_id]
        wanted = kpi.dimension_filter or {}
        aggregates: dict[str, Decimal | None] = {}
        for key in formulas[window.kpi_id].metrics:
            how = Aggregation(aggregations.get(key, Aggregation.sum))
            points = _daily_points(by_metric[key], window, wanted, how)
            aggregates[key] = aggregate(points, how)
        values[window] = formulas[window.kpi_id].evaluate(aggregates)
    return values


def _daily_points(rows, window: Window, wanted: dict[str, str], how: Aggregation) -> list[tuple[date, Decimal]]:
    """One point per day: the day's matching rows summed across dimensions for additive metrics, averaged
    for the others (an average NPS over segments), then aggregated over the window by the metric's rule."""
    per_day: dict[date, list[Decimal]] = defaultdict(list)
    for day, dimensions, value in rows:
        if window.start <= day <= window.end and _matches(dimensions, wanted):
            per_day[day].append(value)
    if how == Aggregation.sum:
        return [(day, sum(vals, Decimal(0))) for day, vals in per_day.items()]
    return [(day, sum(vals, Decimal(0)) / len(vals)) for day, vals in per_day.items()]


def thresholds_of(kpi: Kpi, target: KpiTarget) -> Thresholds:
    """The target's levels as absolute values for the KPI's direction."""
    return resolve_thresholds(
        kpi.direction,
        target=target.target_value,
        target_high=target.target_high,
        warning=target.warning,
        critical=target.critical,
        warning_high=target.warning_high,
        critical_high=target.critical_high,
        mode=target.threshold_mode,
    )


async def evaluate_targets(
    session: AsyncSession, pairs: Iterable[tuple[Kpi, KpiTarget]], as_of: date
) -> dict[uuid.UUID, Evaluation]:
    """Each target (by id) evaluated as of a day: its KPI's value from the period start to that day."""
    pairs = list(pairs)
    windows = {
        target.id: Window(kpi.id, target.start_date, max(target.start_date, min(as_of, target.end_date)))
        for kpi, target in pairs
    }
    values = await kpi_values(session, [kpi for kpi, _ in pairs], windows.values())
    out = {}
    for kpi, target in pairs:
        day_of = day_of_period(target.start_date, target.end_date, as_of)
        out[target.id] = evaluate(
            value=values[windows[target.id]],
            direction=kpi.direction,
            thresholds=thresholds_of(kpi, target),
            pacing=target.pacing,
            elapsed=elapsed_fraction(target.start_date, target.end_date, as_of),
            name=kpi.name,
            day_of=day_of,
        )
    return out
