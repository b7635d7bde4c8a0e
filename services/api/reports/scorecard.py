"""The scorecard: every KPI with a target in a period, grouped input / output / impact, from the evaluation
records (the job's own judgement, made on reading, where a target has none yet: shared/alerts/standing.py), with
the previous period for comparison.

The previous value is compared like with like: the same span as the value's own window (the target's period
to the day it was evaluated), moved to the period before the target's (see `previous_window`).

A constant number of statements whatever the number of KPIs: targets with KPIs and owners (1), standings (at most
4), previous-period values (2), objective filter (0 or 1).
"""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.problems import Unprocessable
from shared.alerts.standing import standings
from shared.department.models import Team
from shared.kpis.compute import Window, kpi_values
from shared.kpis.evaluation import Status
from shared.kpis.models import Kpi, KpiCategory, KpiTarget, ObjectiveKpi
from shared.metrics.models import MetricUnit
from shared.money.fx import reporting_currency
from shared.orgs.clock import session_today
from shared.periods import adjacent_periods, calendar_period_of, is_period_label, parse_period

CATEGORIES = (KpiCategory.input, KpiCategory.output, KpiCategory.impact)


@dataclass(frozen=True)
class Row:
    kpi_id: uuid.UUID
    name: str
    category: str
    unit: str
    currency: str | None
    direction: str
    owner_team_id: uuid.UUID | None
    owner_team: str | None
    target_id: uuid.UUID
    period: str
    target_start: date
    target_end: date  # inclusive
    target_value: Decimal
    value: Decimal | None
    expected_to_date: Decimal | None
    forecast: Decimal | None
    attainment_pct: Decimal | None
    status: str | None
    reason: str
    provisional: bool
    evaluated_at: datetime | None
    previous_value: Decimal | None
    previous_from: date | None
    previous_to: date | None
    change_pct: Decimal | None


ACCEPTED_PERIODS = (
    "Give period as a month (2026-11), a quarter (2026-Q4), a half (2026-H2), a year (2026), an ISO week "
    "(2026-W48) or a day (2026-11-20), or leave period out and give from and to dates "
    "(from=2026-11-01&to=2026-11-30)."
)


def resolve_period(period: str | None, start: date | None, end: date | None) -> tuple[str, date, date]:
    """A label (`2026-11`, `2026-Q4`, `2026`) or explicit from/to; a 422 naming the accepted forms otherwise."""
    if period:
        try:
            p = parse_period(period)
        except ValueError as exc:
            why = str(exc) if is_period_label(period) else f"{period.strip()!r} is not a period"
            detail = f"{why}. {ACCEPTED_PERIODS}"
            raise Unprocessable(detail, errors=[{"location": "query.period", "message": detail}]) from exc
        return p.label, p.start, p.end
    if start and end:
        if end < start:
            raise Unprocessable("`to` is before `from`.", errors=[{"location": "query.to", "message": "before from"}])
        return f"{start}..{end}", start, end
    raise Unprocessable(ACCEPTED_PERIODS)


def previous_window(
    target_start: date, target_end: date, window_start: date, window_end: date
) -> tuple[date, date] | None:
    """The days the previous value is read over: the value's window moved to the period before the target's.

    The period before is the previous calendar period when the target's dates are exactly one (a week, month,
    quarter, half or year, whether or not it was created with that label), else the same number of days just
    before the target. A value over the whole target period compares with the whole previous period (April with
    all 31 days of March, March with all 28 of February); a value to date compares with as many days from the
    start of the previous period, cut at its end (1-20 March with 1-20 February, 1-30 March with 1-28 February).
    """
    period = calendar_period_of(target_start, target_end)
    try:
        if period is not None:
            [before] = adjacent_periods(period, 1)
            if before is None:  # before the first year periods cover: nothing to compare with
                return None
            prev_start, prev_end = before.start, before.end
        else:
            length = timedelta(days=(target_end - target_start).days + 1)
            prev_start, prev_end = target_start - length, target_start - timedelta(days=1)
        if (window_start, window_end) == (target_start, target_end):
            return prev_start, prev_end
        start = prev_start + (window_start - target_start)
        end = min(start + (window_end - window_start), prev_end)
    except (ValueError, OverflowError):  # before the first year periods cover: nothing to compare with
        return None
    return (start, end) if start <= end else None


def percent_change(value: Decimal | None, previous: Decimal | None) -> Decimal | None:
    """The change from `previous` to `value` in percent (None without a previous value, or from zero)."""
    if value is None or previous is None or previous == 0:
        return None
    return ((value - previous) / abs(previous) * 100).quantize(Decimal("0.01"))


async def scorecard(
    session: AsyncSession,
    *,
    start: date,
    end: date,
    team_id: uuid.UUID | None = None,
    category: KpiCategory | None = None,
    status: Status | None = None,
    objective_id: uuid.UUID | None = None,
    kpi_ids: Collection[uuid.UUID] | None = None,
    now: datetime | None = None,
) -> list[Row]:
    """The rows of the scorecard, in category order then KPI name (of the KPIs `kpi_ids` names, when given)."""
    stmt = (
        select(Kpi, KpiTarget, Team.name)
        .join(KpiTarget, KpiTarget.kpi_id == Kpi.id)
        .outerjoin(Team, Team.id == Kpi.owner_team_id)
        .where(KpiTarget.start_date <= end, KpiTarget.end_date >= start)
    )
    if team_id is not None:
        stmt = stmt.where(Kpi.owner_team_id == team_id)
    if kpi_ids is not None:
        stmt = stmt.where(Kpi.id.in_(kpi_ids))
    if category is not None:
        stmt = stmt.where(Kpi.category == category)
    if objective_id is not None:
        stmt = stmt.where(Kpi.id.in_(select(ObjectiveKpi.kpi_id).where(ObjectiveKpi.objective_id == objective_id)))
    triples = (await session.execute(stmt)).all()
    if not triples:
        return []
    today = await session_today(session, now)  # the organisation's, in its time zone
    standing = await standings(session, [(k, t) for k, t, _ in triples], as_of=today, now=now)
    previous_windows = {}
    for kpi, target, _ in triples:
        current = standing[target.id]
        if current.evaluated_at is None and today < target.start_date:  # not started: no value yet, nothing to compare
            continue
        span = previous_window(target.start_date, target.end_date, current.window_start, current.window_end)
        if span is not None:
            previous_windows[target.id] = Window(kpi.id, *span)
    previous = await kpi_values(session, [k for k, _, _ in triples], previous_windows.values())

    money_in = await reporting_currency(session, triples[0][0].org_id)
    rows = []
    for kpi, target, team_name in triples:
        current = standing[target.id]
        if status is not None and current.status != status:
            continue
        prev_window = previous_windows.get(target.id)
        prev = previous[prev_window] if prev_window is not None else None
        rows.append(
            Row(
                kpi_id=kpi.id,
                name=kpi.name,
                category=kpi.category.value,
                unit=kpi.unit.value,
                currency=money_in if kpi.unit == MetricUnit.currency else None,
                direction=kpi.direction.value,
                owner_team_id=kpi.owner_team_id,
                owner_team=team_name,
                target_id=target.id,
                period=target.period_label or f"{target.start_date}..{target.end_date}",
                target_start=target.start_date,
                target_end=target.end_date,
                target_value=target.target_value,
                value=current.value,
                expected_to_date=current.expected_to_date,
                forecast=current.forecast,
                attainment_pct=current.attainment_pct,
                status=current.status.value,
                reason=current.reason,
                provisional=current.provisional,
                evaluated_at=current.evaluated_at,
                previous_value=prev,
                previous_from=prev_window.start if prev_window else None,
                previous_to=prev_window.end if prev_window else None,
                change_pct=percent_change(current.value, prev),
            )
        )
    order = {c.value: i for i, c in enumerate(CATEGORIES)}
    rows.sort(key=lambda r: (order[r.category], r.name.lower(), r.period))
    return rows
