"""KPI values over date windows, computed from the daily metric roll-ups in bulk.

Each metric is aggregated over the window by its own aggregation from the daily roll-ups' components
(ratios are ratios of sums), then the KPI's formula is applied. One query for the metric definitions and
one for the roll-up rows, whatever the number of KPIs and windows; dimension filters are applied in Python.
"""

import uuid
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.kpis.evaluation import (
    Aggregation,
    Evaluation,
    Thresholds,
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


@dataclass(frozen=True)
class DayTotal:
    """One day's roll-up rows of a metric (all matching dimension sets) merged: the same fields as a row, so
    `window_aggregate` reads either. Every aggregation survives the merge: sums add, counts add, min of mins,
    max of maxes; `value_last` is the sum of each dimension set's last value that day (a gauge such as
    followers, reported per channel, totals across channels)."""

    day: date
    value_sum: Decimal
    value_count: int
    value_min: Decimal
    value_max: Decimal
    value_last: Decimal

    @classmethod
    def of(cls, day: date, rows: list) -> "DayTotal":
        return cls(
            day=day,
            value_sum=sum((Decimal(r.value_sum) for r in rows), Decimal(0)),
            value_count=sum(r.value_count for r in rows),
            value_min=min(Decimal(r.value_min) for r in rows),
            value_max=max(Decimal(r.value_max) for r in rows),
            value_last=sum((Decimal(r.value_last) for r in rows), Decimal(0)),
        )


def _matches(dimensions: dict[str, str] | None, wanted: dict[str, str]) -> bool:
    return all((dimensions or {}).get(key) == value for key, value in wanted.items())


async def kpi_values(
    session: AsyncSession, kpis: Iterable[Kpi], windows: Iterable[Window]
) -> dict[Window, Decimal | None]:
    """The value of each KPI over each of its windows (None where there is no data)."""
    kpis = list(kpis)
    formulas = {kpi.id: parse_formula(kpi.formula) for kpi in kpis}
    aggregates = await window_aggregates(session, kpis, windows)
    return {window: formulas[window.kpi_id].evaluate(found) for window, found in aggregates.items()}


def with_zeros(aggregates: dict[str, Decimal | None]) -> dict[str, Decimal | None]:
    """The metrics with no data counted as 0 (a target's no-data policy `zero`), before the formula runs: the
    formula still decides, so spend ÷ conversions with no conversions has no value rather than 0."""
    return {key: Decimal(0) if value is None else value for key, value in aggregates.items()}


async def window_aggregates(
    session: AsyncSession, kpis: Iterable[Kpi], windows: Iterable[Window]
) -> dict[Window, dict[str, Decimal | None]]:
    """For each window, every metric its KPI's formula reads aggregated over it (None: no data). Two queries
    whatever the number of KPIs and windows; `kpi_values` applies the formulas."""
    by_id = {kpi.id: kpi for kpi in kpis}
    windows = list(windows)
    if not windows:
        return {}
    formulas = {kpi_id: parse_formula(kpi.formula) for kpi_id, kpi in by_id.items()}
    metric_keys = set().union(*(formulas[w.kpi_id].metrics for w in windows))
    if not metric_keys:
        return {w: {} for w in windows}
    # Jobs read across organisations (allow_all_orgs), so everything is keyed by (org, metric), never by the
    # metric key alone: two orgs' `spend` must not meet, nor their own definitions of a custom metric.
    org_ids = {by_id[w.kpi_id].org_id for w in windows}
    aggregations = {
        (org_id, key): how
        for org_id, key, how in await session.execute(
            select(MetricDefinition.org_id, MetricDefinition.key, MetricDefinition.aggregation).where(
                MetricDefinition.org_id.in_(org_ids), MetricDefinition.key.in_(metric_keys)
            )
        )
    }
    rows = (
        await session.execute(
            select(
                MetricDaily.org_id,
                MetricDaily.metric_key,
                MetricDaily.day,
                MetricDaily.dimensions,
                MetricDaily.value_sum,
                MetricDaily.value_count,
                MetricDaily.value_min,
                MetricDaily.value_max,
                MetricDaily.value_last,
            ).where(
                MetricDaily.org_id.in_(org_ids),
                MetricDaily.metric_key.in_(metric_keys),
                MetricDaily.day >= min(w.start for w in windows),
                MetricDaily.day <= max(w.end for w in windows),
            )
        )
    ).all()
    by_metric: dict[tuple[uuid.UUID, str], list] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.day):
        by_metric[(row.org_id, row.metric_key)].append(row)
    # Per (org, metric, dimension filter): the matching rows merged into one per day, once; then each window is a
    # slice of at most its number of days, however many campaigns and windows (charts ask for one per day).
    merged: dict[tuple, tuple[list[date], list[DayTotal]]] = {}

    def in_window(key: tuple[uuid.UUID, str], wanted: dict[str, str], window: Window) -> list:
        cache_key = (key, tuple(sorted(wanted.items())))
        if cache_key not in merged:
            per_day: dict[date, list] = defaultdict(list)
            for r in by_metric.get(key, []):
                if _matches(r.dimensions or {}, wanted):
                    per_day[r.day].append(r)
            merged[cache_key] = (list(per_day), [DayTotal.of(day, day_rows) for day, day_rows in per_day.items()])
        days, totals = merged[cache_key]
        return totals[bisect_left(days, window.start) : bisect_right(days, window.end)]

    out: dict[Window, dict[str, Decimal | None]] = {}
    for window in windows:
        kpi = by_id[window.kpi_id]
        wanted = kpi.dimension_filter or {}
        out[window] = {
            key: window_aggregate(
                in_window((kpi.org_id, key), wanted, window),
                Aggregation(aggregations.get((kpi.org_id, key), Aggregation.sum)),
            )
            for key in formulas[window.kpi_id].metrics
        }
    return out


def window_aggregate(rows, how: Aggregation) -> Decimal | None:
    """One metric over a window from its per-day totals (`DayTotal`): a sum of sums, an average of all points
    (sum of sums ÷ sum of counts), the extreme, or the latest day's value."""
    if not rows:
        return None
    if how == Aggregation.sum:
        return sum((Decimal(r.value_sum) for r in rows), Decimal(0))
    if how == Aggregation.avg:
        count = sum(r.value_count for r in rows)
        return sum((Decimal(r.value_sum) for r in rows), Decimal(0)) / count if count else None
    if how == Aggregation.min:
        return min(Decimal(r.value_min) for r in rows)
    if how == Aggregation.max:
        return max(Decimal(r.value_max) for r in rows)
    # `last`: the latest day in the window that has data (rows come in day order), every matching dimension set
    # of that day summed. Never the time the data arrived: a backfill or a late restatement of an early day must
    # not make that day the window's "last".
    latest = max(rows, key=lambda r: r.day)
    return Decimal(latest.value_last)


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


async def to_date_series(
    session: AsyncSession, pairs: Iterable[tuple[Kpi, KpiTarget]], as_of: date
) -> dict[uuid.UUID, list[tuple[date, Decimal | None]]]:
    """For charts: each target's KPI value from its period start to each day up to `as_of` — on every day the
    number the evaluation judged that day. One `kpi_values` call (two queries) for all targets and days."""
    days_of: dict[uuid.UUID, list[date]] = {}
    windows: list[Window] = []
    for kpi, target in pairs:
        last = min(as_of, target.end_date)
        days = [target.start_date + timedelta(days=i) for i in range((last - target.start_date).days + 1)]
        days_of[target.id] = days
        windows.extend(Window(kpi.id, target.start_date, day) for day in days)
    values = await kpi_values(session, list({kpi.id: kpi for kpi, _ in pairs}.values()), windows)
    kpi_of = {target.id: kpi.id for kpi, target in pairs}
    starts = {target.id: target.start_date for _, target in pairs}
    return {
        target_id: [(day, values[Window(kpi_of[target_id], starts[target_id], day)]) for day in days]
        for target_id, days in days_of.items()
    }


@dataclass(frozen=True)
class SpendQuery:
    """Ingested spend of one organisation between two days on the points matching `matcher` (None: nothing)."""

    org_id: uuid.UUID
    start: date
    end: date
    matcher: dict[str, str] | None


async def ingested_spend(session: AsyncSession, queries: list[SpendQuery]) -> list[Decimal]:
    """The ingested `spend` for each query (budget lines of one plan or of many, across organisations). One query
    for all of them; a query whose matcher is None (a team-only budget line) is 0 without reading anything."""
    wanted = [q for q in queries if q.matcher]
    if not wanted:
        return [Decimal(0)] * len(queries)
    rows = (
        await session.execute(
            select(MetricDaily.org_id, MetricDaily.day, MetricDaily.dimensions, MetricDaily.value_sum).where(
                MetricDaily.org_id.in_({q.org_id for q in wanted}),
                MetricDaily.metric_key == "spend",
                MetricDaily.day >= min(q.start for q in wanted),
                MetricDaily.day <= max(q.end for q in wanted),
            )
        )
    ).all()
    by_org: dict[uuid.UUID, list] = defaultdict(list)
    for row in rows:
        by_org[row.org_id].append(row)
    return [
        sum(
            (
                Decimal(r.value_sum)
                for r in by_org[q.org_id]
                if q.start <= r.day <= q.end and _matches(r.dimensions, q.matcher)
            ),
            Decimal(0),
        )
        if q.matcher
        else Decimal(0)
        for q in queries
    ]
