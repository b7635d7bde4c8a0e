"""Reading the metric store: metrics aggregated over windows of days, from the daily roll-ups, in bulk.

One query for the metrics' definitions (their aggregations) and one for the roll-up rows, whatever the number of
windows; dimension filters are applied in Python. Jobs read across organisations (allow_all_orgs), so everything
is keyed by (organisation, metric), never by the metric key alone: two organisations' `spend` must not meet, nor
their own definitions of a custom metric.
"""

import uuid
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.metrics.aggregation import Aggregation, DayTotal, window_aggregate
from shared.metrics.keys import matches
from shared.metrics.models import MetricDaily, MetricDefinition, MetricPoint

Filter = tuple[tuple[str, str], ...]


def dimension_filter(wanted: Mapping[str, str] | None) -> Filter:
    """A dimension filter ({dimension: value}) in the hashable form `MetricWindow` keeps."""
    return tuple(sorted((wanted or {}).items()))


@dataclass(frozen=True)
class MetricWindow:
    """One metric of one organisation over a span of days (both included), on the roll-ups whose dimensions
    match `dimensions` (`dimension_filter(...)`; empty: all), aggregated by `how` (None: the metric's own
    aggregation in the organisation's catalogue; sum for a metric not in it)."""

    org_id: uuid.UUID
    metric: str
    start: date
    end: date
    dimensions: Filter = ()
    how: Aggregation | None = None


async def metric_windows(session: AsyncSession, windows: Iterable[MetricWindow]) -> dict[MetricWindow, Decimal | None]:
    """Each window's aggregate (None: no data in it). Two queries whatever the number of windows (one when every
    window names its aggregation)."""
    windows = set(windows)
    if not windows:
        return {}
    org_ids = {w.org_id for w in windows}
    metric_keys = {w.metric for w in windows}
    aggregations = (
        {
            (org_id, key): how
            for org_id, key, how in await session.execute(
                select(MetricDefinition.org_id, MetricDefinition.key, MetricDefinition.aggregation).where(
                    MetricDefinition.org_id.in_(org_ids), MetricDefinition.key.in_(metric_keys)
                )
            )
        }
        if any(w.how is None for w in windows)
        else {}
    )
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
    by_metric: dict[tuple[uuid.UUID, str], list[Any]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.day):
        by_metric[(row.org_id, row.metric_key)].append(row)
    # Per (org, metric, dimension filter): the matching rows merged into one per day, once; then each window is a
    # slice of at most its number of days, however many campaigns and windows (charts ask for one per day).
    merged: dict[tuple[uuid.UUID, str, Filter], tuple[list[date], list[DayTotal]]] = {}

    def days_of(window: MetricWindow) -> list[DayTotal]:
        key = (window.org_id, window.metric, window.dimensions)
        if key not in merged:
            wanted = dict(window.dimensions)
            per_day: dict[date, list[Any]] = defaultdict(list)
            for r in by_metric.get((window.org_id, window.metric), []):
                if matches(r.dimensions, wanted):
                    per_day[r.day].append(r)
            merged[key] = (list(per_day), [DayTotal.of(day, day_rows) for day, day_rows in per_day.items()])
        days, totals = merged[key]
        return totals[bisect_left(days, window.start) : bisect_right(days, window.end)]

    return {
        w: window_aggregate(days_of(w), w.how or Aggregation(aggregations.get((w.org_id, w.metric), Aggregation.sum)))
        for w in windows
    }


@dataclass(frozen=True)
class SpendQuery:
    """Ingested spend of one organisation between two days on the points matching `matcher` (None: nothing)."""

    org_id: uuid.UUID
    start: date
    end: date
    matcher: dict[str, str] | None


async def ingested_spend(session: AsyncSession, queries: list[SpendQuery]) -> list[Decimal]:
    """The ingested `spend` (summed, whatever the catalogue says) for each query: budget lines of one plan or of
    many, across organisations. A query whose matcher is None (a team-only budget line) is 0 without reading."""
    windows = [
        MetricWindow(q.org_id, "spend", q.start, q.end, dimension_filter(q.matcher), Aggregation.sum)
        if q.matcher
        else None
        for q in queries
    ]
    found = await metric_windows(session, [w for w in windows if w is not None])
    return [Decimal(0) if w is None else found[w] or Decimal(0) for w in windows]


async def recent_sources(
    session: AsyncSession, metrics: Iterable[tuple[uuid.UUID, str]], since: date
) -> dict[tuple[uuid.UUID, str], set[str]]:
    """The sources that reported each (organisation, metric) on or after `since`. One query, filtered by the
    organisations and metrics asked for."""
    metrics = set(metrics)
    if not metrics:
        return {}
    rows = await session.execute(
        select(MetricPoint.org_id, MetricPoint.metric_key, MetricPoint.source)
        .where(
            MetricPoint.org_id.in_({org_id for org_id, _ in metrics}),
            MetricPoint.metric_key.in_({key for _, key in metrics}),
            MetricPoint.day >= since,
        )
        .distinct()
    )
    out: dict[tuple[uuid.UUID, str], set[str]] = defaultdict(set)
    for org_id, metric, source in rows:
        if (org_id, metric) in metrics:
            out[(org_id, metric)].add(source)
    return dict(out)
