"""Read-side KPI maths over stored data: suggested targets from history, objective progress from KPIs."""

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import get_or_404
from services.api.kpis.targets.schemas import TARGET_LIMIT
from services.api.kpis.targets.service import default_pacing
from services.api.kpis.values.schemas import (
    HistoryPoint,
    KpiProgress,
    KpiValues,
    ObjectiveProgress,
    SuggestedLevels,
    SuggestedTarget,
    ValuePoint,
)
from services.api.problems import Unprocessable
from shared.alerts.standing import standings
from shared.kpis.compute import Window, kpi_values
from shared.kpis.models import Kpi, KpiTarget, ObjectiveKpi
from shared.kpis.suggest import MIN_PERIODS, suggest_target
from shared.metrics.models import MetricUnit
from shared.money.fx import reporting_currency
from shared.numbers import plain_number
from shared.orgs.clock import session_today
from shared.periods import Period, adjacent_periods, parse_period, period_containing, same_period_last_year
from shared.strategy.models import Objective

TRAILING_PERIODS = 6
HUNDRED = Decimal(100)
# How many periods either side of the same period last year its seasonal factor compares it with: three, but
# never reaching the period asked for (a half-year has one before it; a year has no season at all).
SEASON_HALF_WIDTH = {"day": 3, "week": 3, "month": 3, "quarter": 3, "half": 1, "year": 0}


def _last_year_around(period: Period) -> list[Period | None]:
    """The same period a year ago in the middle, with SEASON_HALF_WIDTH periods either side; [] for years."""
    half = SEASON_HALF_WIDTH[period.kind]
    try:
        last_year = same_period_last_year(period)
    except ValueError:  # before 1901
        return []
    if not half:
        return []
    return [
        *adjacent_periods(last_year, half, forward=False),
        last_year,
        *adjacent_periods(last_year, half, forward=True),
    ]


def _usable(value: Decimal | None) -> bool:
    return value is not None and value.is_finite() and abs(value) < TARGET_LIMIT


async def suggest(session: AsyncSession, *, kpi_id: uuid.UUID, period_label: str) -> SuggestedTarget:
    """A target for the period from the KPI's trailing periods (and the same period last year, if known)."""
    kpi = await get_or_404(session, Kpi, kpi_id)
    try:
        period = parse_period(period_label)
    except ValueError as exc:
        raise Unprocessable(str(exc), errors=[{"location": "query.period", "message": str(exc)}]) from exc
    trailing = adjacent_periods(period, TRAILING_PERIODS, forward=False)
    around = _last_year_around(period)
    periods = {p.label: p for p in [*trailing, *around] if p is not None}
    windows = {label: Window(kpi.id, p.start, p.end) for label, p in periods.items()}
    values = await kpi_values(session, [kpi], windows.values())

    def value_of(p: Period | None) -> Decimal | None:
        return None if p is None else values[windows[p.label]]

    # Leading periods before the KPI had any data are not history; gaps after the first value are kept (they
    # keep the later values at their true positions in the trend).
    history = [value_of(p) for p in trailing]
    while history and history[0] is None:
        history.pop(0)
    shown = [HistoryPoint(period=p.label, value=value_of(p)) for p in trailing if p is not None]
    known = [v for v in history if v is not None]

    def without_suggestion(explanation: str) -> SuggestedTarget:
        return SuggestedTarget(
            kpi_id=kpi.id,
            period=period.label,
            enough_history=False,
            explanation=explanation,
            suggestion=None,
            numbers={"periods_with_data": len(known)},
            history=shown,
        )

    def too_large(what: str, numbers: list[Decimal]) -> SuggestedTarget:
        largest = max((abs(v) for v in numbers if v.is_finite()), default=None)
        return without_suggestion(
            f"Not enough usable history: {what} reach {'infinity' if largest is None else f'{largest:.3E}'}, "
            "past the largest target this service stores (16 digits before the decimal point)."
        )

    if not all(_usable(v) for v in known):
        return too_large("the KPI's values", known)
    suggestion = suggest_target(
        history,
        kpi.direction,
        # A year-ago value too large for a target tells nothing about the season of a usable series.
        last_year_around=[v if _usable(v) else None for v in map(value_of, around)],
    )
    if suggestion is None:
        return without_suggestion(
            f"Not enough history: {len(known)} of the last {TRAILING_PERIODS} periods have data; "
            f"a suggestion needs at least {MIN_PERIODS}."
        )
    if not all(_usable(v) for v in suggestion.levels):
        return too_large("the suggested levels", suggestion.levels)
    return SuggestedTarget(
        kpi_id=kpi.id,
        period=period.label,
        enough_history=True,
        explanation=suggestion.method,
        suggestion=SuggestedLevels(
            target_value=suggestion.target,
            target_high=suggestion.target_high,
            warning=suggestion.warning,
            critical=suggestion.critical,
            warning_high=suggestion.warning_high,
            critical_high=suggestion.critical_high,
            pacing=await default_pacing(session, kpi),
        ),
        numbers={k: _plain(v) for k, v in suggestion.numbers.items()},
        history=shown,
    )


def _plain(value):
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


async def objective_progress(
    session: AsyncSession, *, objective_id: uuid.UUID, as_of: date | None
) -> ObjectiveProgress:
    """Weighted mean of the linked KPIs' attainment (each capped at 100%) for the period containing as_of."""
    objective = await get_or_404(session, Objective, objective_id)
    return (await objectives_progress(session, objective_ids=[objective.id], as_of=as_of))[objective.id]


async def objectives_progress(
    session: AsyncSession, *, objective_ids: Sequence[uuid.UUID], as_of: date | None
) -> dict[uuid.UUID, ObjectiveProgress]:
    """The progress of each objective, by id: the weighted mean of its KPIs' attainment, each capped at 100%,
    for the period containing as_of, and each KPI's status as the alerting sees it (`standings`). At most six
    queries whatever the number of objectives and KPIs (links with their KPIs, targets, then the standings); a KPI
    measuring several objectives is evaluated once.
    """
    as_of = as_of or await session_today(session)
    if not objective_ids:
        return {}
    links = (
        await session.execute(
            select(ObjectiveKpi.objective_id, ObjectiveKpi.weight, Kpi)
            .join(Kpi, Kpi.id == ObjectiveKpi.kpi_id)
            .where(ObjectiveKpi.objective_id.in_(objective_ids))
        )
    ).all()
    kpis = {kpi.id: kpi for _, _, kpi in links}
    # A KPI's target periods never overlap, so at most one target per KPI contains as_of.
    targets = (
        {
            t.kpi_id: t
            for t in await session.scalars(
                select(KpiTarget).where(
                    KpiTarget.kpi_id.in_(kpis), KpiTarget.start_date <= as_of, KpiTarget.end_date >= as_of
                )
            )
        }
        if kpis
        else {}
    )
    evaluations = await standings(session, [(kpis[k], t) for k, t in targets.items()], as_of=as_of)
    weights_of: dict[uuid.UUID, list[tuple[uuid.UUID, Decimal]]] = {oid: [] for oid in objective_ids}
    for objective_id, weight, kpi in links:
        weights_of[objective_id].append((kpi.id, weight))
    out = {}
    for objective_id, weighted_kpis in weights_of.items():
        rows, weighted, weights = [], Decimal(0), Decimal(0)
        for kpi_id, weight in sorted(weighted_kpis):
            target = targets.get(kpi_id)
            evaluation = evaluations.get(target.id) if target else None
            attainment = evaluation.attainment_pct if evaluation else None
            if attainment is not None:
                weighted += weight * min(attainment, HUNDRED)
                weights += weight
            rows.append(
                KpiProgress(
                    kpi_id=kpi_id,
                    name=kpis[kpi_id].name,
                    weight=weight,
                    target_id=target.id if target else None,
                    period=(target.period_label or f"{target.start_date}..{target.end_date}") if target else None,
                    value=evaluation.value if evaluation else None,
                    expected_to_date=evaluation.expected_to_date if evaluation else None,
                    attainment_pct=attainment,
                    status=evaluation.status if evaluation else None,
                )
            )
        progress = (weighted / weights).quantize(Decimal("0.01"), ROUND_HALF_UP) if weights else None
        out[objective_id] = ObjectiveProgress(objective_id=objective_id, as_of=as_of, progress_pct=progress, kpis=rows)
    return out


MAX_BUCKETS = 1000


async def values(session: AsyncSession, *, kpi_id: uuid.UUID, start: date, end: date, grain: str) -> KpiValues:
    """The KPI per day, ISO week or month between two dates (two queries whatever the number of buckets)."""
    kpi = await get_or_404(session, Kpi, kpi_id)
    if end < start:
        raise Unprocessable("`to` is before `from`.", errors=[{"location": "query.to", "message": "before from"}])
    buckets, day = [], start
    while day <= end:
        period = period_containing(grain, day)
        buckets.append((period.label, max(period.start, start), min(period.end, end)))
        day = period.end + timedelta(days=1)
        if len(buckets) > MAX_BUCKETS:
            raise Unprocessable(f"At most {MAX_BUCKETS} {grain}s per request; narrow from/to or use a coarser grain.")
    windows = [Window(kpi.id, first, last) for _, first, last in buckets]
    found = await kpi_values(session, [kpi], windows)
    return KpiValues(
        kpi_id=kpi.id,
        grain=grain,
        currency=await reporting_currency(session, kpi.org_id) if kpi.unit == MetricUnit.currency else None,
        values=[
            ValuePoint(
                period=label,
                start=s,
                end=e,
                value=found[w],
                unconverted=str(found.missing[w]) if w in found.missing else None,
            )
            for (label, s, e), w in zip(buckets, windows, strict=True)
        ],
    )
