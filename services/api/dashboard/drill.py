"""A KPI over a window split by each dimension its metrics carry (channel, campaign…), for the dashboard's
drill-down: every slice is the KPI computed on that value's data alone, so a ratio is a ratio of sums per slice
(CPA of Meta = Meta spend ÷ Meta conversions), never an average of anything.

A constant number of statements whatever the number of dimensions and values: one finds the dimensions and their
largest values, one `kpi_values` call computes every slice and the total, one reads whether the metric sums.
"""

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import BindParameter, Date, Integer, String, Uuid, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.engine import is_postgres
from shared.kpis.compute import Window, formulas_of, kpi_values
from shared.kpis.formula import Metric
from shared.kpis.models import Kpi
from shared.metrics.aggregation import Aggregation
from shared.metrics.keys import CURRENCY_DIMENSION
from shared.metrics.models import MetricDefinition
from shared.metrics.queries import dimension_filter


@dataclass(frozen=True)
class Slice:
    value: str  # the dimension's value (meta, spring_sale…)
    kpi_value: Decimal | None
    share: Decimal | None  # of the whole, for a KPI that sums one metric; None for any other (a ratio's share)


@dataclass(frozen=True)
class Breakdown:
    dimension: str
    slices: list[Slice]  # by KPI value, largest first, those without a value last
    total: Decimal | None  # the KPI over the whole window with the same filters
    more: int  # values left out past the limit


# The values of each dimension ranked by their metrics' summed value_sum, the first :limit kept, with how many
# there are. Without a fixed filter they come from the single-dimension slices; with one, from the roll-ups that
# match it (a slice of campaign spans every channel, so it cannot say which campaigns Meta ran).
_RANKED = (
    "SELECT dimension, dim_value, n FROM (SELECT dimension, dim_value, row_number() OVER (PARTITION BY dimension "
    "ORDER BY sum(size) DESC, dim_value) AS r, count(*) OVER (PARTITION BY dimension) AS n FROM ({pairs}) p "
    "GROUP BY dimension, dim_value) q WHERE r <= :limit ORDER BY dimension, r"
)
_FROM_SLICES = (
    "SELECT s.dimension AS dimension, s.dim_value AS dim_value, s.value_sum AS size FROM metric_slices s "
    "WHERE s.org_id = :org AND s.metric_key IN :metrics AND s.day BETWEEN :lo AND :hi AND s.dimension <> '' "
    "AND s.dimension NOT IN :skip"
)
_FROM_DAILY_POSTGRES = (
    "SELECT e.key AS dimension, e.value AS dim_value, d.value_sum AS size FROM metric_daily d "
    "CROSS JOIN LATERAL jsonb_each_text(CAST(d.dimensions AS jsonb)) AS e(key, value) "
    "WHERE d.org_id = :org AND d.metric_key IN :metrics AND d.day BETWEEN :lo AND :hi "
    "AND CAST(d.dimensions AS jsonb) @> CAST(:filter AS jsonb) AND e.key NOT IN :skip"
)
_FROM_DAILY_SQLITE = (
    "SELECT e.key AS dimension, e.value AS dim_value, d.value_sum AS size FROM metric_daily d, "
    "json_each(d.dimensions) e WHERE d.org_id = :org AND d.metric_key IN :metrics AND d.day BETWEEN :lo AND :hi "
    "AND NOT EXISTS (SELECT 1 FROM json_each(:filter) f WHERE json_extract(d.dimensions, '$.' || f.key) "
    "IS NOT f.value) AND e.key NOT IN :skip"
)


async def _values(
    session: AsyncSession, kpi: Kpi, metrics: list[str], start: date, end: date, fixed: dict[str, str], limit: int
) -> dict[str, tuple[list[str], int]]:
    """Each dimension's largest values (at most `limit`) and how many it has, under the fixed filter."""
    postgres = is_postgres(session)
    pairs = _FROM_SLICES if not fixed else _FROM_DAILY_POSTGRES if postgres else _FROM_DAILY_SQLITE
    params: list[BindParameter] = [
        bindparam("org", kpi.org_id, type_=Uuid()),
        bindparam("metrics", metrics, expanding=True),
        bindparam("lo", start, type_=Date()),
        bindparam("hi", end, type_=Date()),
        bindparam("skip", sorted({CURRENCY_DIMENSION, *fixed}), expanding=True),
        bindparam("limit", limit, type_=Integer()),
    ]
    if fixed:
        params.append(bindparam("filter", json.dumps(fixed), type_=String()))
    rows = await session.execute(
        text(_RANKED.format(pairs=pairs))
        .bindparams(*params)
        .columns(dimension=String(), dim_value=String(), n=Integer())
    )
    out: dict[str, tuple[list[str], int]] = {}
    for dimension, value, n in rows:
        out.setdefault(dimension, ([], n))[0].append(value)
    return out


async def _sums(session: AsyncSession, kpi: Kpi, metric: str) -> bool:
    """Whether the metric sums over days (a metric not in the catalogue does)."""
    how = await session.scalar(
        select(MetricDefinition.aggregation).where(
            MetricDefinition.org_id == kpi.org_id, MetricDefinition.key == metric
        )
    )
    return how is None or Aggregation(how) == Aggregation.sum


def _share(value: Decimal | None, whole: Decimal | None) -> Decimal | None:
    if value is None or whole is None or whole <= 0:
        return None
    return value / whole


async def drill_down(
    session: AsyncSession,
    kpi: Kpi,
    *,
    start: date,
    end: date,
    filters: dict[str, str] | None = None,
    limit: int = 50,
) -> list[Breakdown]:
    """The KPI over [start, end] split by each dimension its metrics carry, by dimension name; dimensions the KPI
    or `filters` already fix are not offered. `filters` (dimension -> value, validated by the caller) narrow
    every slice and the total. A value's share is of the total (data without the dimension counts in the total and
    in no slice, so the shares then add up to less than one)."""
    filters = dict(filters or {})
    formula = formulas_of([kpi])[kpi.id]
    metrics = sorted(formula.metrics)
    if not metrics or limit < 1:
        return []
    fixed = {**filters, **(kpi.dimension_filter or {})}
    values = await _values(session, kpi, metrics, start, end, fixed, limit)
    total_window = Window(kpi.id, start, end, dimension_filter(filters))
    windows = {
        (dimension, value): Window(kpi.id, start, end, dimension_filter({**filters, dimension: value}))
        for dimension, (shown, _) in values.items()
        for value in shown
    }
    computed = await kpi_values(session, [kpi], [total_window, *windows.values()], {kpi.id: formula})
    total = computed[total_window]
    additive = bool(values) and isinstance(formula.tree, Metric) and await _sums(session, kpi, formula.tree.key)

    out = []
    for dimension, (shown, count) in sorted(values.items()):
        found = {value: computed[windows[dimension, value]] for value in shown}
        more = count - len(shown)
        slices = [Slice(value, v, _share(v, total) if additive else None) for value, v in found.items()]
        slices.sort(key=lambda s: (s.kpi_value is None, -(s.kpi_value or 0), s.value))
        out.append(Breakdown(dimension, slices, total, more))
    return out
