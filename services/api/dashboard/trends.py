"""A KPI's value period by period (the last twelve months, quarters, weeks…) with the target of each period, for
the dashboard's trend charts. Three statements whatever the number of KPIs and periods: one `kpi_values` call for
every KPI and period (two) and one for the targets overlapping the span."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.kpis.compute import Window, kpi_values
from shared.kpis.evaluation import Direction, Pacing, Status, evaluate
from shared.kpis.judging import thresholds_of
from shared.kpis.models import Kpi, KpiTarget
from shared.metrics.queries import dimension_filter
from shared.periods import Period, adjacent_periods


@dataclass(frozen=True)
class TrendPoint:
    """One period of a KPI's trend.

    `value`: the KPI over the period (ratios are ratios of sums, money in the reporting currency); None when there
    is no data, money that cannot be converted, or the period starts after today. `to_date`: the period contains
    today, so `value` covers its start to today only. `target` and `band` are the target's full values even for a
    linearly paced target in a to-date period (the chart shows what the period aims at, not the pace);
    `off_target` is therefore None there (a partial value against a full target says nothing)."""

    period: Period
    value: Decimal | None
    to_date: bool
    target: Decimal | None = None
    band: tuple[Decimal, Decimal] | None = None  # the acceptable zone, low to high
    off_target: bool | None = None  # the evaluation would not call the value on track; None: not judged


def band_of(kpi: Kpi, target: KpiTarget) -> tuple[Decimal, Decimal]:
    """The acceptable zone of a target: between the target and its warning level (a target range: between its
    two ends), low to high."""
    t = thresholds_of(kpi, target)
    if kpi.direction == Direction.target_range:
        return t.target, t.target_high if t.target_high is not None else t.target
    return min(t.target, t.warning), max(t.target, t.warning)


def _target_for(targets: list[KpiTarget], period: Period) -> KpiTarget | None:
    """The target set for exactly this period: a month's value is never judged against a quarter's target (three
    times a month's worth for a KPI that sums)."""
    return next((t for t in targets if (t.start_date, t.end_date) == (period.start, period.end)), None)


async def trends(
    session: AsyncSession,
    kpis: list[Kpi],
    *,
    kind: str,
    last: Period,
    today: date,
    count: int = 12,
    filters: dict[str, str] | None = None,
) -> dict[uuid.UUID, list[TrendPoint]]:
    """Each KPI's value over the `count` periods of `kind` ending with `last`, in time order, with each period's
    target (periods outside the years periods cover are left out). With `filters` (a drill-down's slice) the values
    are the slice's, and no target is attached: targets are set for the whole KPI."""
    if last.kind != kind:
        raise ValueError(f"the last period {last.label} is not a {kind}")
    periods = [p for p in [*adjacent_periods(last, count - 1), last] if p is not None] if count > 0 else []
    if not kpis or not periods:
        return {kpi.id: [] for kpi in kpis}
    spans = {p: (p.start, min(p.end, today)) for p in periods if p.start <= today}
    narrowed = dimension_filter(filters)
    windows = {(kpi.id, p): Window(kpi.id, *span, narrowed) for kpi in kpis for p, span in spans.items()}
    values = await kpi_values(session, kpis, windows.values())
    found: Iterable[KpiTarget] = (
        []
        if narrowed
        else await session.scalars(
            select(KpiTarget)
            .where(
                KpiTarget.kpi_id.in_([kpi.id for kpi in kpis]),
                KpiTarget.start_date <= periods[-1].end,
                KpiTarget.end_date >= periods[0].start,
            )
            .order_by(KpiTarget.start_date, KpiTarget.end_date)
        )
    )
    targets: dict[uuid.UUID, list[KpiTarget]] = {kpi.id: [] for kpi in kpis}
    for target in found:
        targets[target.kpi_id].append(target)

    out: dict[uuid.UUID, list[TrendPoint]] = {}
    for kpi in kpis:
        points = []
        for period in periods:
            window = windows.get((kpi.id, period))
            value = values[window] if window is not None else None
            to_date = period.start <= today <= period.end
            aim = _target_for(targets[kpi.id], period)
            if aim is None:
                points.append(TrendPoint(period, value, to_date))
                continue
            off = None
            if value is not None and not (to_date and aim.pacing == Pacing.linear):
                # The evaluation's own judgement of the period's value against its target, unpaced.
                judged = evaluate(
                    value=value,
                    direction=kpi.direction,
                    thresholds=thresholds_of(kpi, aim),
                    pacing=Pacing.none,
                    elapsed=Decimal(1),
                )
                off = judged.status != Status.on_track
            points.append(TrendPoint(period, value, to_date, aim.target_value, band_of(kpi, aim), off))
        out[kpi.id] = points
    return out
