# ruff: noqa: S608 - the SQL below interpolates module constants only; every value is a bound parameter.
"""Reading the metric store: metrics aggregated over windows of days, in bulk, summed in the database.

A read costs the days it asks for, not the campaigns or the history: each day of a metric with no dimension filter
or a one-dimension filter (most KPIs) is one row of metric_slices, which the ingest merge keeps; a filter on more
dimensions sums the matching roll-ups per day in the database. A fixed number of queries whatever the number of
windows. Jobs read across organisations (allow_all_orgs), so everything is keyed by (organisation, metric), never
by the metric key alone: two organisations' `spend` must not meet, nor their own definitions of a custom metric.
"""

import json
import uuid
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Integer, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from shared.db.base import METRIC_NUMBER
from shared.db.engine import is_postgres
from shared.metrics.aggregation import Aggregation, DayTotal, window_aggregate
from shared.metrics.models import TOTAL, MetricDefinition, MetricSource

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
    """Each window's aggregate (None: no data in it). At most three queries whatever the number of windows: the
    metrics' aggregations (skipped when every window names its own), the days of every (organisation, metric,
    filter) asked with none or one dimension from metric_slices, and those with more from metric_daily, filtered
    and summed per day in the database. What comes back is at most one row per day asked for, however many
    campaigns the days hold; each window is then a slice of its series' days."""
    windows = set(windows)
    if not windows:
        return {}
    aggregations = (
        {
            (org_id, key): how
            for org_id, key, how in await session.execute(
                select(MetricDefinition.org_id, MetricDefinition.key, MetricDefinition.aggregation).where(
                    MetricDefinition.org_id.in_({w.org_id for w in windows}),
                    MetricDefinition.key.in_({w.metric for w in windows}),
                )
            )
        }
        if any(w.how is None for w in windows)
        else {}
    )
    # Each series (organisation, metric, filter) is read once, over the span of all its windows.
    spans: dict[Series, tuple[date, date]] = {}
    for w in windows:
        key = (w.org_id, w.metric, w.dimensions)
        first, last = spans.get(key, (w.start, w.end))
        spans[key] = (min(first, w.start), max(last, w.end))
    series = await _daily_series(session, spans)

    def days_of(window: MetricWindow) -> list[DayTotal]:
        days, totals = series.get((window.org_id, window.metric, window.dimensions), ([], []))
        return totals[bisect_left(days, window.start) : bisect_right(days, window.end)]

    return {
        w: window_aggregate(days_of(w), w.how or Aggregation(aggregations.get((w.org_id, w.metric), Aggregation.sum)))
        for w in windows
    }


Series = tuple[uuid.UUID, str, Filter]
_DAY_COLUMNS: dict[str, TypeEngine[Any]] = {
    "i": Integer(),
    "day": Date(),
    "value_sum": METRIC_NUMBER,
    "value_count": Integer(),
    "value_min": METRIC_NUMBER,
    "value_max": METRIC_NUMBER,
    "value_last": METRIC_NUMBER,
}


async def _daily_series(
    session: AsyncSession, spans: Mapping[Series, tuple[date, date]]
) -> dict[Series, tuple[list[date], list[DayTotal]]]:
    """Each series' days with data in its span (sorted), merged over the dimension sets its filter matches."""
    postgres = is_postgres(session)
    asked = list(spans.items())
    # The series travel as one JSON parameter (any number of them, no per-series statement or parameter limit):
    # those of none or one dimension to the slices, the others to the filtered roll-ups.
    sliced: list[dict[str, Any]] = []
    filtered: list[dict[str, Any]] = []
    for i, ((org_id, metric, where), (first, last)) in enumerate(asked):
        item = {"i": i, "org": str(org_id) if postgres else org_id.hex, "metric": metric}
        item |= {"lo": first.isoformat(), "hi": last.isoformat()}
        if len(where) > 1:
            filtered.append(item | {"filter": dict(where)})
        else:
            dimension, value = where[0] if where else (TOTAL, TOTAL)
            sliced.append(item | {"dimension": dimension, "dim_value": value})
    out: dict[Series, tuple[list[date], list[DayTotal]]] = {}
    for sql, items in ((_slices_sql(postgres), sliced), (_filtered_sql(postgres), filtered)):
        if not items:
            continue
        rows = await session.execute(text(sql).bindparams(w=json.dumps(items)).columns(**_DAY_COLUMNS))
        for row in rows:
            days, totals = out.setdefault(asked[row.i][0], ([], []))
            days.append(row.day)
            totals.append(
                DayTotal(row.day, row.value_sum, row.value_count, row.value_min, row.value_max, row.value_last)
            )
    return out


def _slices_sql(postgres: bool) -> str:
    """Series of none or one dimension: their days' slices, one primary-key range scan each."""
    if postgres:
        # LATERAL: each series is a primary-key range scan of its own days, in the months its range spans (pruned at
        # run time), whatever the statistics say: a plain join was planned as a hash join over every month of the
        # table when the statistics were stale (just after a large merge), ~80 ms instead of ~1 ms.
        return (
            "SELECT w.i, s.day, s.value_sum, s.value_count, s.value_min, s.value_max, s.value_last "
            "FROM json_to_recordset(CAST(:w AS json)) AS w(i int, org uuid, metric text, dimension text, "
            "dim_value text, lo date, hi date) CROSS JOIN LATERAL (SELECT * FROM metric_slices x "
            "WHERE x.org_id = w.org AND x.metric_key = w.metric AND x.dimension = w.dimension "
            "AND x.dim_value = w.dim_value AND x.day BETWEEN w.lo AND w.hi) s ORDER BY w.i, s.day"
        )
    return (
        "SELECT w.i, s.day, s.value_sum, s.value_count, s.value_min, s.value_max, s.value_last FROM "
        "(SELECT json_extract(value, '$.i') AS i, json_extract(value, '$.org') AS org, "
        "json_extract(value, '$.metric') AS metric, json_extract(value, '$.dimension') AS dimension, "
        "json_extract(value, '$.dim_value') AS dim_value, json_extract(value, '$.lo') AS lo, "
        "json_extract(value, '$.hi') AS hi FROM json_each(:w)) w CROSS JOIN metric_slices s "
        "WHERE s.org_id = w.org AND s.metric_key = w.metric AND s.dimension = w.dimension "
        "AND s.dim_value = w.dim_value AND s.day BETWEEN w.lo AND w.hi ORDER BY w.i, s.day"
    )


def _filtered_sql(postgres: bool) -> str:
    """Series filtered on two or more dimensions: the roll-ups of their days that have every wanted value, summed
    per day in the database (a primary-key range scan of the metric's days)."""
    totals = (
        "sum(d.value_sum) AS value_sum, sum(d.value_count) AS value_count, min(d.value_min) AS value_min, "
        "max(d.value_max) AS value_max, sum(d.value_last) AS value_last"
    )
    if postgres:
        return (
            f"SELECT w.i, d.day, {totals} FROM json_to_recordset(CAST(:w AS json)) AS w(i int, org uuid, "
            "metric text, filter jsonb, lo date, hi date) CROSS JOIN LATERAL (SELECT * FROM metric_daily x "
            "WHERE x.org_id = w.org AND x.metric_key = w.metric AND x.day BETWEEN w.lo AND w.hi "
            "AND CAST(x.dimensions AS jsonb) @> w.filter) d GROUP BY w.i, d.day ORDER BY w.i, d.day"
        )
    # Dimension names are [a-z][a-z0-9_]* (the API refuses others), so they make a JSON path as they are.
    return (
        f"SELECT w.i, d.day, {totals} FROM (SELECT json_extract(value, '$.i') AS i, "
        "json_extract(value, '$.org') AS org, json_extract(value, '$.metric') AS metric, "
        "json_extract(value, '$.filter') AS filter, json_extract(value, '$.lo') AS lo, "
        "json_extract(value, '$.hi') AS hi FROM json_each(:w)) w CROSS JOIN metric_daily d "
        "WHERE d.org_id = w.org AND d.metric_key = w.metric AND d.day BETWEEN w.lo AND w.hi AND NOT EXISTS "
        "(SELECT 1 FROM json_each(w.filter) f WHERE json_extract(d.dimensions, '$.' || f.key) IS NOT f.value) "
        "GROUP BY w.i, d.day ORDER BY w.i, d.day"
    )


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
    """The sources that reported each (organisation, metric) on or after `since`: one query on metric_sources (the
    latest day each source reported, kept by the merge), not on the points."""
    metrics = set(metrics)
    if not metrics:
        return {}
    rows = await session.execute(
        select(MetricSource.org_id, MetricSource.metric_key, MetricSource.source).where(
            MetricSource.org_id.in_({org_id for org_id, _ in metrics}),
            MetricSource.metric_key.in_({key for _, key in metrics}),
            MetricSource.last_day >= since,
        )
    )
    out: dict[tuple[uuid.UUID, str], set[str]] = defaultdict(set)
    for org_id, metric, source in rows:
        if (org_id, metric) in metrics:
            out[(org_id, metric)].add(source)
    return dict(out)
