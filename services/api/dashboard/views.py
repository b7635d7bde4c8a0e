"""What the dashboard pages show, gathered from the same service functions as the JSON reports (scorecard,
budget report, department report, KPI evaluations): no second copy of the maths here, only layout data.

The overview runs a fixed number of statements whatever the number of KPIs: the scorecard's, one for the
targets behind its rows, two for all the charts' series, one for the KPIs without a target, and the
department report's; plus three or four per approved or active plan in the period (at most three plans).
"""

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import get_or_404
from services.api.dashboard.charts import Level, budget_bar, line_chart, paced
from services.api.problems import NotFound
from services.api.reports import scorecard as scorecard_service
from services.api.reports.budget import budget_report
from services.api.reports.department import department_report
from services.api.reports.schemas import BudgetReportOut
from shared.alerts.models import Alert, AlertStatus, KpiEvaluation
from shared.kpis.compute import to_date_series
from shared.kpis.evaluation import Pacing
from shared.kpis.judging import thresholds_of
from shared.kpis.models import Kpi, KpiTarget
from shared.orgs.clock import session_today
from shared.orgs.models import Org
from shared.periods import Period, adjacent_periods, parse_period, period_containing
from shared.plans.models import Plan, PlanStatus

MAX_CHART_DAYS = 366
UNTARGETED_SHOWN = 20


@dataclass(frozen=True)
class StatusLook:
    text: str
    icon: str
    css: str


STATUS = {
    "on_track": StatusLook("On track", "✓", "on-track"),
    "at_risk": StatusLook("At risk", "!", "at-risk"),
    "off_track": StatusLook("Off track", "✕", "off-track"),
    "no_data": StatusLook("No data", "?", "no-data"),
}
SEVERITY = {
    "warning": StatusLook("Warning", "!", "at-risk"),
    "critical": StatusLook("Critical", "✕", "off-track"),
    "no_data": StatusLook("No data", "?", "no-data"),
}


def look(status: str | None) -> StatusLook:
    return STATUS.get(status or "no_data", STATUS["no_data"])


def severity_look(severity) -> StatusLook:
    """An alert's badge: its own text and icon for each severity (colour is never the only signal); an unknown
    severity shows as it is named rather than passing for a warning."""
    key = str(getattr(severity, "value", severity))
    return SEVERITY.get(key) or StatusLook(key.replace("_", " ").capitalize(), "!", "at-risk")


@dataclass(frozen=True)
class Card:
    row: scorecard_service.Row
    status: StatusLook
    chart: Markup | None


@dataclass(frozen=True)
class PlanBudget:
    plan: Plan
    report: BudgetReportOut
    bars: dict[uuid.UUID, Markup]
    total_bar: Markup


def resolve(period: str | None, today: date) -> Period:
    """The period asked for (a month, quarter or year label); this month when none is given."""
    if not period:
        return period_containing("month", today)
    return parse_period(period)


def neighbours(period: Period) -> tuple[str | None, str | None]:
    """The labels of the periods before and after (None past the years periods cover: no link)."""
    [before], [after] = adjacent_periods(period, 1), adjacent_periods(period, 1, forward=True)
    return (before.label if before else None, after.label if after else None)


def chart_levels(kpi: Kpi, target: KpiTarget, *, with_thresholds: bool) -> list[Level]:
    """The target line (paced for cumulative KPIs), and the warning/critical levels on the detail page."""
    t = thresholds_of(kpi, target)
    linear = target.pacing == Pacing.linear
    levels = [Level("target", paced(t.target, target.start_date, target.end_date, linear))]
    if t.target_high is not None:
        levels.append(Level("target", paced(t.target_high, target.start_date, target.end_date, linear)))
    if with_thresholds:
        for name, value in (("warning", t.warning), ("critical", t.critical)):
            levels.append(Level(name, paced(value, target.start_date, target.end_date, linear)))
        for name, high in (("warning", t.warning_high), ("critical", t.critical_high)):
            if high is not None:
                levels.append(Level(name, paced(high, target.start_date, target.end_date, linear)))
    return levels


async def overview(session: AsyncSession, *, org_id: uuid.UUID, period: Period, today: date | None = None) -> dict:
    today = today or await session_today(session)
    rows = await scorecard_service.scorecard(session, start=period.start, end=period.end)
    pairs = (
        [
            (kpi, target)
            for kpi, target in await session.execute(
                select(Kpi, KpiTarget).join(Kpi).where(KpiTarget.id.in_([r.target_id for r in rows]))
            )
        ]
        if rows
        else []
    )
    charted = [(k, t) for k, t in pairs if (t.end_date - t.start_date).days < MAX_CHART_DAYS]
    series = await to_date_series(session, charted, today) if charted else {}
    by_target = {t.id: (k, t) for k, t in pairs}
    cards: dict[str, list[Card]] = {c.value: [] for c in scorecard_service.CATEGORIES}
    for row in rows:
        kpi, target = by_target[row.target_id]
        chart = None
        if target.id in series:
            chart = line_chart(
                series[target.id],
                target.start_date,
                target.end_date,
                chart_levels(kpi, target, with_thresholds=False),
                label=f"{row.name} to date against its target, {row.period}",
            )
        cards[row.category].append(Card(row=row, status=look(row.status), chart=chart))
    counts = {key: sum(1 for r in rows if (r.status or "no_data") == key) for key in STATUS}
    untargeted = (
        await session.scalars(
            select(Kpi.name)
            .where(
                ~Kpi.id.in_(
                    select(KpiTarget.kpi_id).where(
                        KpiTarget.start_date <= period.end, KpiTarget.end_date >= period.start
                    )
                )
            )
            .order_by(Kpi.name)
            .limit(UNTARGETED_SHOWN + 1)
        )
    ).all()

    plans = (
        await session.scalars(
            select(Plan)
            .where(
                Plan.start_date <= period.end,
                Plan.end_date >= period.start,
                Plan.status.in_([PlanStatus.approved, PlanStatus.active]),
            )
            .order_by(Plan.start_date, Plan.name)
            .limit(3)
        )
    ).all()
    budgets = []
    for plan in plans:
        report = await _plan_budget(session, plan, today)
        if report is not None:
            budgets.append(report)
    department = await department_report(session, as_of=today)
    org = await session.get(Org, org_id)
    previous, following = neighbours(period)
    return {
        "org": org,
        "period": period,
        "previous": previous,
        "following": following,
        "today": today,
        "cards": cards,
        "counts": counts,
        "total": len(rows),
        "untargeted": untargeted[:UNTARGETED_SHOWN],
        "untargeted_more": len(untargeted) > UNTARGETED_SHOWN,
        "budgets": budgets,
        "department": department,
    }


def _spent(actual: Decimal | None) -> str:
    return "spend unknown (an exchange rate is missing)" if actual is None else str(actual)


async def _plan_budget(session: AsyncSession, plan: Plan, today: date) -> PlanBudget | None:
    try:
        report = await budget_report(session, plan_id=plan.id, today=today)
    except NotFound:  # a plan without a budget yet
        return None
    bars = {
        line.line_id: budget_bar(
            line.planned,
            line.actual or Decimal(0),
            label=f"{line.name or line.channel or 'line'}: {_spent(line.actual)} of {line.planned}",
        )
        for line in report.lines
    }
    total = budget_bar(
        report.totals.planned,
        report.totals.actual or Decimal(0),
        label=f"All lines: {_spent(report.totals.actual)} of {report.totals.planned} {report.currency}",
    )
    return PlanBudget(plan=plan, report=report, bars=bars, total_bar=total)


async def kpi_page(session: AsyncSession, *, kpi_id: uuid.UUID, today: date | None = None) -> dict:
    today = today or await session_today(session)
    kpi = await get_or_404(session, Kpi, kpi_id)
    targets = (
        await session.scalars(select(KpiTarget).where(KpiTarget.kpi_id == kpi.id).order_by(KpiTarget.start_date))
    ).all()
    current = next((t for t in targets if t.start_date <= today <= t.end_date), None)
    if current is None and targets:
        current = max((t for t in targets if t.start_date <= today), key=lambda t: t.start_date, default=targets[0])
    chart, row = None, None
    if current is not None:
        period_rows = await scorecard_service.scorecard(session, start=current.start_date, end=current.end_date)
        row = next((r for r in period_rows if r.target_id == current.id), None)
        if (current.end_date - current.start_date).days < MAX_CHART_DAYS and current.start_date <= today:
            series = await to_date_series(session, [(kpi, current)], today)
            chart = line_chart(
                series[current.id],
                current.start_date,
                current.end_date,
                chart_levels(kpi, current, with_thresholds=True),
                label=f"{kpi.name} to date with its target, warning and critical levels",
                width=720,
                height=240,
                pad=8,
                annotate=True,
            )
    evaluations = (
        await session.scalars(
            select(KpiEvaluation)
            .where(KpiEvaluation.kpi_id == kpi.id, KpiEvaluation.transition_to.is_not(None))
            .order_by(KpiEvaluation.evaluated_at.desc())
            .limit(20)
        )
    ).all()
    alerts = (
        await session.scalars(
            select(Alert)
            .where(Alert.kpi_id == kpi.id)
            .order_by((Alert.status == AlertStatus.resolved), Alert.opened_at.desc())
            .limit(20)
        )
    ).all()
    return {
        "org": await session.get(Org, kpi.org_id),
        "kpi": kpi,
        "target": current,
        "thresholds": thresholds_of(kpi, current) if current else None,
        "row": row,
        "status": look(row.status if row else None),
        "chart": chart,
        "transitions": evaluations,
        "alerts": alerts,
        "today": today,
    }


def attainment_text(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.quantize(Decimal('0.1'))} %"
