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

from sqlalchemy import Date, Integer, String, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from shared.db.base import METRIC_NUMBER
from shared.db.engine import is_postgres
from shared.metrics.aggregation import Aggregation, DayTotal, window_aggregate
from shared.metrics.keys import CURRENCY_DIMENSION, json_text
from shared.metrics.models import TOTAL, MetricDefinition, MetricSource, MetricUnit
from shared.money.fx import Gapped, MissingRate, RateBook, rate_books
from shared.orgs.models import Org

Filter = tuple[tuple[str, str], ...]
Series = tuple[uuid.UUID, str, Filter]
# Each series' days in order, a day once per currency it has amounts in ('' for metrics that are not money).
DailySeries = dict[Series, tuple[list[date], list[tuple[str, DayTotal]]]]


def dimension_filter(wanted: Mapping[str, str] | None) -> Filter:
    """A dimension filter ({dimension: value}) in the hashable form `MetricWindow` keeps."""
    return tuple(sorted((wanted or {}).items()))


@dataclass(frozen=True)
class MetricWindow:
    """One metric of one organisation over a span of days (both included), on the roll-ups whose dimensions
    match `dimensions` (`dimension_filter(...)`; empty: all), aggregated by `how` (None: the metric's own
    aggregation in the organisation's catalogue; sum for a metric not in it). A money metric's amounts are
    converted into `currency` (None: the organisation's reporting currency) at each day's rate."""

    org_id: uuid.UUID
    metric: str
    start: date
    end: date
    dimensions: Filter = ()
    how: Aggregation | None = None
    currency: str | None = None


WindowValues = Gapped[MetricWindow, Decimal | None]


async def metric_windows(
    session: AsyncSession, windows: Iterable[MetricWindow], *, as_reported: bool = False
) -> WindowValues:
    """Each window's aggregate (None: no data in it, or money that cannot be converted: `missing`). A fixed
    number of queries whatever the number of windows: the metrics' definitions, the days of every (organisation,
    metric, filter) asked with none or one dimension from metric_slices, and those with more from metric_daily,
    filtered and summed per day in the database; for money, the organisations' reporting currencies and rates.
    What comes back is at most one row per day and currency asked for, however many campaigns the days hold; each
    day's money is converted at that day's rate, then each window is a slice of its series' days. `as_reported`:
    also each money window's sums per currency before conversion (budget reports show them; evaluation does not)."""
    windows = set(windows)
    if not windows:
        return WindowValues({}, {})
    definitions = {
        (org_id, key): (how, unit)
        for org_id, key, how, unit in await session.execute(
            select(
                MetricDefinition.org_id, MetricDefinition.key, MetricDefinition.aggregation, MetricDefinition.unit
            ).where(
                MetricDefinition.org_id.in_({w.org_id for w in windows}),
                MetricDefinition.key.in_({w.metric for w in windows}),
            )
        )
    }
    # Each series (organisation, metric, filter) is read once, over the span of all its windows.
    spans: dict[Series, tuple[date, date]] = {}
    for w in windows:
        key = (w.org_id, w.metric, w.dimensions)
        first, last = spans.get(key, (w.start, w.end))
        spans[key] = (min(first, w.start), max(last, w.end))
    series = await _daily_series(session, spans)
    money = {w for w in windows if definitions.get((w.org_id, w.metric), (None, None))[1] == MetricUnit.currency}
    converted, reporting = await _converted(session, series, money)

    values: dict[MetricWindow, Decimal | None] = {}
    missing: dict[MetricWindow, MissingRate] = {}
    reported: dict[MetricWindow, dict[str, Decimal]] = {}
    for w in money if as_reported else ():  # each money window's sums as stored, per currency (before conversion)
        days, rows = series.get((w.org_id, w.metric, w.dimensions), ([], []))
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for currency, total in rows[bisect_left(days, w.start) : bisect_right(days, w.end)]:
            sums[currency or reporting[w.org_id]] += Decimal(total.value_sum)
        reported[w] = dict(sums)
    for w in windows:
        days, totals = converted.get((w.org_id, w.metric, w.dimensions, w.currency if w in money else None), ([], []))
        within = totals[bisect_left(days, w.start) : bisect_right(days, w.end)]
        gap = next((t for t in within if isinstance(t, MissingRate)), None)
        if gap is not None:
            values[w], missing[w] = None, gap
            continue
        how = w.how or Aggregation(definitions.get((w.org_id, w.metric), (Aggregation.sum, None))[0])
        values[w] = window_aggregate([t for t in within if isinstance(t, DayTotal)], how)
    return WindowValues(values, missing, reported)


Converted = dict[tuple[uuid.UUID, str, Filter, str | None], tuple[list[date], list[DayTotal | MissingRate]]]


async def _converted(
    session: AsyncSession, series: DailySeries, money: set[MetricWindow]
) -> tuple[Converted, dict[uuid.UUID, str]]:
    """Each series' days as one total per day, for each currency asked of it: a money series' amounts of each
    currency converted at the day's rate (amounts stored without a currency are in the reporting currency), a day
    that cannot be converted a `MissingRate`; any other series' days as they are (they carry no currency). Also the
    organisations' reporting currencies."""
    asked: dict[Series, set[str | None]] = defaultdict(set)
    for w in money:
        asked[w.org_id, w.metric, w.dimensions].add(w.currency)
    reporting: dict[uuid.UUID, str] = {}
    books: dict[uuid.UUID, RateBook] = {}
    stored = [series[key] for key in asked if key in series]
    if stored:
        org_ids = {org_id for org_id, _, _ in asked}
        found = await session.execute(select(Org.id, Org.reporting_currency).where(Org.id.in_(org_ids)))
        reporting = {org_id: currency for org_id, currency in found}
        currencies = set(reporting.values()) | {c for targets in asked.values() for c in targets if c}
        currencies |= {currency for _, rows in stored for currency, _ in rows if currency}
        books = await rate_books(session, org_ids, currencies, max(days[-1] for days, _ in stored))
    out: Converted = {}
    for key, (days, rows) in series.items():
        org_id, metric, where = key
        if key not in asked:  # not money: one row per day, currency ''
            out[org_id, metric, where, None] = days, [total for _, total in rows]
            continue
        book = books.get(org_id, RateBook())
        for target in asked[key]:
            quote = target or reporting[org_id]
            totals: list[DayTotal | MissingRate] = []
            for day, (currency, total) in zip(days, rows, strict=True):
                base = currency or reporting[org_id]
                rate = book.rate(base, quote, day)
                totals.append(MissingRate(base, quote, day) if rate is None else _times(total, rate))
            out[org_id, metric, where, target] = _per_day(days, totals)
    return out, reporting


def _times(total: DayTotal, rate: Decimal) -> DayTotal:
    if rate == 1:
        return total
    return DayTotal(
        total.day,
        Decimal(total.value_sum) * rate,
        total.value_count,
        Decimal(total.value_min) * rate,
        Decimal(total.value_max) * rate,
        Decimal(total.value_last) * rate,
    )


def _per_day(days: list[date], totals: list) -> tuple[list[date], list]:
    """One entry per day: a day's totals of several currencies merged (`DayTotal.of`), or its first gap."""
    out_days: list[date] = []
    out: list = []
    i = 0
    while i < len(days):
        j = i + 1
        while j < len(days) and days[j] == days[i]:
            j += 1
        group = totals[i:j]
        gap = next((t for t in group if isinstance(t, MissingRate)), None)
        out_days.append(days[i])
        out.append(gap if gap is not None else group[0] if len(group) == 1 else DayTotal.of(days[i], group))
        i = j
    return out_days, out


_DAY_COLUMNS: dict[str, TypeEngine[Any]] = {
    "i": Integer(),
    "day": Date(),
    "value_sum": METRIC_NUMBER,
    "value_count": Integer(),
    "value_min": METRIC_NUMBER,
    "value_max": METRIC_NUMBER,
    "value_last": METRIC_NUMBER,
    "currency": String(),
}


async def _daily_series(session: AsyncSession, spans: Mapping[Series, tuple[date, date]]) -> DailySeries:
    """Each series' days with data in its span (sorted), merged over the dimension sets its filter matches, per
    currency."""
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
    out: DailySeries = {}
    for sql, items in ((_slices_sql(postgres), sliced), (_filtered_sql(postgres), filtered)):
        if not items:
            continue
        rows = await session.execute(text(sql).bindparams(w=json.dumps(items)).columns(**_DAY_COLUMNS))
        for row in rows:
            days, totals = out.setdefault(asked[row.i][0], ([], []))
            days.append(row.day)
            totals.append(
                (
                    row.currency,
                    DayTotal(row.day, row.value_sum, row.value_count, row.value_min, row.value_max, row.value_last),
                )
            )
    return out


def _slices_sql(postgres: bool) -> str:
    """Series of none or one dimension: their days' slices, one primary-key range scan each."""
    if postgres:
        # LATERAL: each series is a primary-key range scan of its own days, in the months its range spans (pruned at
        # run time), whatever the statistics say: a plain join was planned as a hash join over every month of the
        # table when the statistics were stale (just after a large merge), ~80 ms instead of ~1 ms.
        return (
            "SELECT w.i, s.day, s.currency, s.value_sum, s.value_count, s.value_min, s.value_max, s.value_last "
            "FROM json_to_recordset(CAST(:w AS json)) AS w(i int, org uuid, metric text, dimension text, "
            "dim_value text, lo date, hi date) CROSS JOIN LATERAL (SELECT * FROM metric_slices x "
            "WHERE x.org_id = w.org AND x.metric_key = w.metric AND x.dimension = w.dimension "
            "AND x.dim_value = w.dim_value AND x.day BETWEEN w.lo AND w.hi) s ORDER BY w.i, s.day"
        )
    return (
        "SELECT w.i, s.day, s.currency, s.value_sum, s.value_count, s.value_min, s.value_max, s.value_last FROM "
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
    currency = f"coalesce({json_text('d.dimensions', CURRENCY_DIMENSION, postgres)}, '')"
    totals = (
        f"{currency} AS currency, sum(d.value_sum) AS value_sum, sum(d.value_count) AS value_count, "
        "min(d.value_min) AS value_min, max(d.value_max) AS value_max, sum(d.value_last) AS value_last"
    )
    if postgres:
        return (
            f"SELECT w.i, d.day, {totals} FROM json_to_recordset(CAST(:w AS json)) AS w(i int, org uuid, "
            "metric text, filter jsonb, lo date, hi date) CROSS JOIN LATERAL (SELECT * FROM metric_daily x "
            "WHERE x.org_id = w.org AND x.metric_key = w.metric AND x.day BETWEEN w.lo AND w.hi "
            "AND CAST(x.dimensions AS jsonb) @> w.filter) d GROUP BY w.i, d.day, 3 ORDER BY w.i, d.day"
        )
    # Dimension names are [a-z][a-z0-9_]* (the API refuses others), so they make a JSON path as they are.
    return (
        f"SELECT w.i, d.day, {totals} FROM (SELECT json_extract(value, '$.i') AS i, "
        "json_extract(value, '$.org') AS org, json_extract(value, '$.metric') AS metric, "
        "json_extract(value, '$.filter') AS filter, json_extract(value, '$.lo') AS lo, "
        "json_extract(value, '$.hi') AS hi FROM json_each(:w)) w CROSS JOIN metric_daily d "
        "WHERE d.org_id = w.org AND d.metric_key = w.metric AND d.day BETWEEN w.lo AND w.hi AND NOT EXISTS "
        "(SELECT 1 FROM json_each(w.filter) f WHERE json_extract(d.dimensions, '$.' || f.key) IS NOT f.value) "
        "GROUP BY w.i, d.day, 3 ORDER BY w.i, d.day"
    )


@dataclass(frozen=True)
class SpendQuery:
    """Ingested spend of one organisation between two days on the points matching `matcher` (None: nothing)."""

    org_id: uuid.UUID
    start: date
    end: date
    matcher: dict[str, str] | None
    currency: str | None = None  # converted into it (None: the organisation's reporting currency)


async def ingested_spend(
    session: AsyncSession, queries: list[SpendQuery]
) -> list[tuple[Decimal | MissingRate, dict[str, Decimal]]]:
    """The ingested `spend` (summed, whatever the catalogue says) for each query, in its currency, and as
    reported per currency: budget lines of one plan or of many, across organisations. A query whose matcher is
    None (a team-only budget line) is 0 without reading; one whose spend cannot be converted (a day without a
    rate) is that `MissingRate`."""
    windows = [
        MetricWindow(q.org_id, "spend", q.start, q.end, dimension_filter(q.matcher), Aggregation.sum, q.currency)
        if q.matcher
        else None
        for q in queries
    ]
    found = await metric_windows(session, [w for w in windows if w is not None], as_reported=True)
    return [
        (Decimal(0), {})
        if w is None
        else (found.missing[w] if w in found.missing else found[w] or Decimal(0), found.as_reported.get(w, {}))
        for w in windows
    ]


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
