"""KPI values and judgements over date windows, read from the metric store in bulk (shared/metrics/queries.py).

Each metric a KPI's formula reads is aggregated over the window by its own aggregation (ratios are ratios of
sums), then the formula is applied. Two queries whatever the number of KPIs and windows.
"""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from shared.kpis.formula import Formula, parse_formula
from shared.kpis.judging import Judgement, judge, target_window
from shared.kpis.models import Kpi, KpiTarget
from shared.kpis.state_machine import TargetState
from shared.metrics.queries import Filter, MetricWindow, dimension_filter, metric_windows
from shared.money.fx import Gapped


@dataclass(frozen=True)
class Window:
    kpi_id: uuid.UUID
    start: date
    end: date  # inclusive
    # Dimension values to narrow to, on top of the KPI's own filter (`dimension_filter(...)`; the dashboard's
    # drill-down). One that contradicts the KPI's filter matches nothing: the window has no data.
    dimensions: Filter = ()


def _where(kpi: Kpi, window: Window) -> Filter | None:
    """The window's dimension filter: the KPI's own and the window's; None when they contradict each other."""
    if not window.dimensions:  # evaluation's windows: the KPI's own filter, as before the drill-down
        return dimension_filter(kpi.dimension_filter)
    own = dict(kpi.dimension_filter or {})
    for dimension, value in window.dimensions:
        if own.setdefault(dimension, value) != value:
            return None
    return dimension_filter(own)


def formulas_of(kpis: Iterable[Kpi]) -> dict[uuid.UUID, Formula]:
    """Each KPI's formula, parsed once (a run passes these to every call below)."""
    return {kpi.id: parse_formula(kpi.formula) for kpi in kpis}


async def window_aggregates(
    session: AsyncSession,
    kpis: Iterable[Kpi],
    windows: Iterable[Window],
    formulas: Mapping[uuid.UUID, Formula] | None = None,
) -> Gapped[Window, dict[str, Decimal | None]]:
    """For each window, every metric its KPI's formula reads aggregated over it (None: no data), money in the
    organisation's reporting currency; `missing`: the windows some of whose money cannot be converted."""
    by_id = {kpi.id: kpi for kpi in kpis}
    formulas = formulas if formulas is not None else formulas_of(by_id.values())
    wanted = {}
    nothing: dict[Window, dict[str, Decimal | None]] = {}
    for window in set(windows):
        kpi = by_id[window.kpi_id]
        where = _where(kpi, window)
        if where is None:
            nothing[window] = dict.fromkeys(formulas[kpi.id].metrics)
            continue
        wanted[window] = {
            key: MetricWindow(kpi.org_id, key, window.start, window.end, where) for key in formulas[kpi.id].metrics
        }
    found = await metric_windows(session, [mw for per_key in wanted.values() for mw in per_key.values()])
    missing = {}
    for window, per_key in wanted.items():
        gap = next((found.missing[mw] for mw in per_key.values() if mw in found.missing), None)
        if gap is not None:
            missing[window] = gap
    values = {window: {key: found[mw] for key, mw in per_key.items()} for window, per_key in wanted.items()}
    return Gapped(values | nothing, missing)


async def kpi_values(
    session: AsyncSession,
    kpis: Iterable[Kpi],
    windows: Iterable[Window],
    formulas: Mapping[uuid.UUID, Formula] | None = None,
) -> Gapped[Window, Decimal | None]:
    """The value of each KPI over each of its windows (None where there is no data, or money that cannot be
    converted: `missing` says which day and pair)."""
    kpis = list(kpis)
    formulas = formulas if formulas is not None else formulas_of(kpis)
    aggregates = await window_aggregates(session, kpis, windows, formulas)
    return Gapped(
        {
            window: None if window in aggregates.missing else formulas[window.kpi_id].evaluate(found)
            for window, found in aggregates.items()
        },
        aggregates.missing,
    )


async def judge_targets(
    session: AsyncSession,
    pairs: Iterable[tuple[Kpi, KpiTarget]],
    *,
    as_of: date,
    now: datetime,
    states: Mapping[uuid.UUID, TargetState] | None = None,
    formulas: Mapping[uuid.UUID, Formula] | None = None,
) -> dict[uuid.UUID, Judgement]:
    """Each target (by id) judged as of a day (`shared.kpis.judging.judge`), from its state in `states` (a target
    not in it: never evaluated). Two queries for all of them."""
    pairs = list(pairs)
    kpis = list({kpi.id: kpi for kpi, _ in pairs}.values())
    formulas = formulas if formulas is not None else formulas_of(kpis)
    windows = {target.id: Window(kpi.id, *target_window(target, as_of)) for kpi, target in pairs}
    aggregates = await window_aggregates(session, kpis, windows.values(), formulas)
    states = states or {}
    return {
        target.id: judge(
            kpi,
            target,
            formulas[kpi.id],
            aggregates[windows[target.id]],
            as_of=as_of,
            previous=states.get(target.id, TargetState.initial()),
            now=now,
            missing=aggregates.missing.get(windows[target.id]),
        )
        for kpi, target in pairs
    }


async def to_date_series(
    session: AsyncSession, pairs: Iterable[tuple[Kpi, KpiTarget]], as_of: date
) -> dict[uuid.UUID, list[tuple[date, Decimal | None]]]:
    """For charts: each target's KPI value from its period start to each day up to `as_of` — on every day the
    number the evaluation judged that day. One `kpi_values` call (two queries) for all targets and days."""
    pairs = list(pairs)
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
