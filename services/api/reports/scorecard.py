"""The scorecard: every KPI with a target in a period, grouped input / output / impact, from the evaluation
records (a live evaluation where a target has none yet), with the previous period for comparison.

A constant number of statements whatever the number of KPIs: targets with KPIs and owners (1), latest
evaluations (1), live evaluations and previous-period values (2 + 2), objective filter (0 or 1).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from services.api.problems import Unprocessable
from shared.alerts.models import KpiEvaluation
from shared.department.models import Team
from shared.kpis.compute import Window, evaluate_targets, kpi_values
from shared.kpis.evaluation import Status
from shared.kpis.models import Kpi, KpiCategory, KpiTarget, ObjectiveKpi
from shared.periods import parse_period

CATEGORIES = (KpiCategory.input, KpiCategory.output, KpiCategory.impact)


@dataclass(frozen=True)
class Row:
    kpi_id: uuid.UUID
    name: str
    category: str
    unit: str
    direction: str
    owner_team_id: uuid.UUID | None
    owner_team: str | None
    target_id: uuid.UUID
    period: str
    target_value: Decimal
    value: Decimal | None
    expected_to_date: Decimal | None
    forecast: Decimal | None
    attainment_pct: Decimal | None
    status: str | None
    provisional: bool
    evaluated_at: datetime | None
    previous_value: Decimal | None
    change_pct: Decimal | None


def resolve_period(period: str | None, start: date | None, end: date | None) -> tuple[str, date, date]:
    """A label (`2026-11`, `2026-Q4`, `2026`) or explicit from/to."""
    if period:
        try:
            p = parse_period(period)
        except ValueError as exc:
            raise Unprocessable(str(exc), errors=[{"location": "query.period", "message": str(exc)}]) from exc
        return p.label, p.start, p.end
    if start and end:
        if end < start:
            raise Unprocessable("`to` is before `from`.", errors=[{"location": "query.to", "message": "before from"}])
        return f"{start}..{end}", start, end
    raise Unprocessable("Give a period (e.g. 2026-11) or both from and to.")


def _change(value: Decimal | None, previous: Decimal | None) -> Decimal | None:
    if value is None or previous is None or previous == 0:
        return None
    return ((value - previous) / abs(previous) * 100).quantize(Decimal("0.01"))


async def scorecard(
    session,
    *,
    start: date,
    end: date,
    team_id: uuid.UUID | None = None,
    category: KpiCategory | None = None,
    status: Status | None = None,
    objective_id: uuid.UUID | None = None,
) -> list[Row]:
    """The rows of the scorecard, in category order then KPI name."""
    stmt = (
        select(Kpi, KpiTarget, Team.name)
        .join(KpiTarget, KpiTarget.kpi_id == Kpi.id)
        .outerjoin(Team, Team.id == Kpi.owner_team_id)
        .where(KpiTarget.start_date <= end, KpiTarget.end_date >= start)
    )
    if team_id is not None:
        stmt = stmt.where(Kpi.owner_team_id == team_id)
    if category is not None:
        stmt = stmt.where(Kpi.category == category)
    if objective_id is not None:
        stmt = stmt.where(Kpi.id.in_(select(ObjectiveKpi.kpi_id).where(ObjectiveKpi.objective_id == objective_id)))
    triples = (await session.execute(stmt)).all()
    if not triples:
        return []
    target_ids = [t.id for _, t, _ in triples]
    latest_at = (
        select(KpiEvaluation.target_id, func.max(KpiEvaluation.evaluated_at).label("at"))
        .where(KpiEvaluation.target_id.in_(target_ids))
        .group_by(KpiEvaluation.target_id)
        .subquery()
    )
    recorded = {
        e.target_id: e
        for e in await session.scalars(
            select(KpiEvaluation).join(
                latest_at,
                (latest_at.c.target_id == KpiEvaluation.target_id) & (latest_at.c.at == KpiEvaluation.evaluated_at),
            )
        )
    }
    today = datetime.now(UTC).date()
    missing = [(k, t) for k, t, _ in triples if t.id not in recorded]
    live = await evaluate_targets(session, missing, today) if missing else {}
    length = (end - start).days + 1
    previous_windows = {
        t.id: Window(k.id, start - timedelta(days=length), start - timedelta(days=1)) for k, t, _ in triples
    }
    previous = await kpi_values(session, [k for k, _, _ in triples], previous_windows.values())

    rows = []
    for kpi, target, team_name in triples:
        rec = recorded.get(target.id)
        if rec is not None:
            value, expected, forecast, attainment = rec.value, rec.expected_to_date, rec.forecast, rec.attainment_pct
            row_status = (rec.status or rec.observed_status).value
            provisional, evaluated_at = rec.provisional, rec.evaluated_at
        else:
            ev = live[target.id]
            value, expected, forecast, attainment = ev.value, ev.expected_to_date, ev.forecast, ev.attainment_pct
            row_status, provisional, evaluated_at = ev.status.value, False, None
        if status is not None and row_status != status.value:
            continue
        prev = previous[previous_windows[target.id]]
        rows.append(
            Row(
                kpi_id=kpi.id,
                name=kpi.name,
                category=kpi.category.value,
                unit=kpi.unit.value,
                direction=kpi.direction.value,
                owner_team_id=kpi.owner_team_id,
                owner_team=team_name,
                target_id=target.id,
                period=target.period_label or f"{target.start_date}..{target.end_date}",
                target_value=target.target_value,
                value=value,
                expected_to_date=expected,
                forecast=forecast,
                attainment_pct=attainment,
                status=row_status,
                provisional=provisional,
                evaluated_at=evaluated_at,
                previous_value=prev,
                change_pct=_change(value, prev),
            )
        )
    order = {c.value: i for i, c in enumerate(CATEGORIES)}
    rows.sort(key=lambda r: (order[r.category], r.name.lower(), r.period))
    return rows
