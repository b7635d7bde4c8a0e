"""What the dashboard pages show, gathered from the same service functions as the JSON reports (scorecard,
budget report, department report, KPI values and evaluations): no second copy of the maths here, only layout data.

Every KPI is shown, with or without a target: its value over the view's days (`ranges.View`), the same days of the
comparison period, a trend over the last twelve periods (`trends`), and the standing of its target in force.

The overview runs a fixed number of statements whatever the number of KPIs: the KPIs and their teams, the
scorecard's, one for the targets behind its rows, two for every value and comparison, three for all the trends,
and the department report's; plus three or four per approved or active plan in the view (at most three plans).
"""

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import get_or_404
from services.api.dashboard import formatting
from services.api.dashboard.charts import Level, budget_bar, line_chart, paced
from services.api.dashboard.drill import drill_down
from services.api.dashboard.i18n import gettext as _
from services.api.dashboard.ranges import View, neighbours, trend_kind
from services.api.dashboard.trends import TrendPoint, trends
from services.api.problems import NotFound
from services.api.reports import scorecard as scorecard_service
from services.api.reports.budget import budget_report
from services.api.reports.department import department_report
from services.api.reports.schemas import BudgetReportOut
from shared.alerts.models import Alert, AlertStatus, KpiEvaluation
from shared.department.models import Team
from shared.kpis.compute import Window, kpi_values, to_date_series
from shared.kpis.evaluation import Pacing
from shared.kpis.judging import thresholds_of
from shared.kpis.models import Kpi, KpiTarget
from shared.metrics.models import MetricUnit
from shared.metrics.queries import dimension_filter
from shared.money.fx import reporting_currency
from shared.orgs.clock import session_today
from shared.orgs.models import Org
from shared.periods import period_containing
from shared.plans.models import Plan, PlanStatus

MAX_CHART_DAYS = 366


def N_(message: str) -> str:
    return message


@dataclass(frozen=True)
class StatusLook:
    text: str
    icon: str
    css: str


STATUS = {
    "on_track": StatusLook(N_("On track"), "✓", "on-track"),
    "at_risk": StatusLook(N_("At risk"), "!", "at-risk"),
    "off_track": StatusLook(N_("Off track"), "✕", "off-track"),
    "no_data": StatusLook(N_("No data"), "?", "no-data"),
}
SEVERITY = {
    "warning": StatusLook(N_("Warning"), "!", "at-risk"),
    "critical": StatusLook(N_("Critical"), "✕", "off-track"),
    "no_data": StatusLook(N_("No data"), "?", "no-data"),
}


def level_names() -> dict[str, str]:
    return {"target": _("target"), "warning": _("warning"), "critical": _("critical")}


def translated(found: StatusLook) -> StatusLook:
    """A badge of the tables here (or a page's own) in the page's language."""
    return StatusLook(_(found.text), found.icon, found.css)


def look(status: str | None) -> StatusLook:
    """A status's badge in the reader's language: its word and icon as well as its colour."""
    return translated(STATUS.get(status or "no_data", STATUS["no_data"]))


def severity_look(severity) -> StatusLook:
    """An alert's badge: its own text and icon for each severity (colour is never the only signal); an unknown
    severity shows as it is named rather than passing for a warning."""
    key = str(getattr(severity, "value", severity))
    found = SEVERITY.get(key)
    return translated(found) if found else StatusLook(key.replace("_", " ").capitalize(), "!", "at-risk")


NO_TARGET = StatusLook(N_("No target"), "–", "no-target")
CATEGORY_HEADINGS = {"input": N_("Input KPIs"), "output": N_("Output KPIs"), "impact": N_("Impact KPIs")}
CATEGORY_NAMES = {"input": N_("Input"), "output": N_("Output"), "impact": N_("Impact")}
PRESET_NAMES = {
    "this_month": N_("This month"),
    "last_month": N_("Last month"),
    "quarter_to_date": N_("Quarter to date"),
    "year_to_date": N_("Year to date"),
    "last_30_days": N_("Last 30 days"),
    "last_90_days": N_("Last 90 days"),
}
COMPARE_NAMES = {"previous": N_("Previous period"), "last_year": N_("Same period last year")}
DIRECTION_NAMES = {
    "higher_is_better": N_("Higher is better"),
    "lower_is_better": N_("Lower is better"),
    "target_range": N_("Within a range"),
}


def words(table: dict[str, str], key: str) -> str:
    """A translated name from one of the tables above (the key itself when unknown)."""
    return _(table[key]) if key in table else key


MAX_CARDS = 500


@dataclass(frozen=True)
class Card:
    """One KPI in the view: its value over the view's days, what it is compared with, its trend, and the standing
    of its target in force at the view's last day (None: no target overlaps the view)."""

    kpi: Kpi
    team: str | None
    currency: str | None  # the reporting currency, for money KPIs
    row: scorecard_service.Row | None
    value: Decimal | None
    compared: Decimal | None
    trend: list[TrendPoint]
    target_fits: bool = True  # the target's period is the view's days (else the card names the target's period)

    @property
    def unit(self) -> str:
        return self.kpi.unit.value

    @property
    def status(self) -> StatusLook:
        return look(self.row.status) if self.row is not None else translated(NO_TARGET)

    @property
    def change_pct(self) -> Decimal | None:
        return scorecard_service.percent_change(self.value, self.compared)


@dataclass(frozen=True)
class PlanBudget:
    plan: Plan
    report: BudgetReportOut
    bars: dict[uuid.UUID, Markup]
    total_bar: Markup


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


def _in_force(rows: list[scorecard_service.Row], through: date) -> scorecard_service.Row:
    """Of a KPI's scorecard rows, the target in force on the view's last day read (else the latest begun, else the
    first)."""
    covering = [r for r in rows if r.target_start <= through <= r.target_end]
    if covering:
        return covering[0]
    begun = [r for r in rows if r.target_start <= through]
    return max(begun, key=lambda r: r.target_start) if begun else rows[0]


async def view_cards(
    session: AsyncSession,
    view: View,
    today: date,
    *,
    kpis: list[Kpi] | None = None,
    filters: dict[str, str] | None = None,
) -> list[Card]:
    """Every KPI of the organisation (or those given) as a card of the view, in category then name order. A fixed
    number of statements whatever the number of KPIs: the KPIs, their teams, the scorecard's,
    one `kpi_values` for the values and comparisons, and the trends'."""
    whole_org = kpis is None
    if kpis is None:
        kpis = list((await session.scalars(select(Kpi).order_by(func.lower(Kpi.name), Kpi.id).limit(MAX_CARDS))).all())
    if not kpis:
        return []
    team_ids = {k.owner_team_id for k in kpis if k.owner_team_id is not None}
    teams = (
        {t_id: name for t_id, name in await session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids)))}
        if team_ids
        else {}
    )
    rows = await scorecard_service.scorecard(
        session, start=view.start, end=view.end, kpi_ids=None if whole_org else [k.id for k in kpis]
    )
    rows_of: dict[uuid.UUID, list[scorecard_service.Row]] = {}
    for r in rows:
        rows_of.setdefault(r.kpi_id, []).append(r)
    extra = dimension_filter(filters)
    windows: dict[tuple[uuid.UUID, str], Window] = {}
    for kpi in kpis:
        if view.started:
            windows[(kpi.id, "value")] = Window(kpi.id, view.start, view.through, extra)
        if view.compare_start is not None and view.compare_end is not None:
            windows[(kpi.id, "compared")] = Window(kpi.id, view.compare_start, view.compare_end, extra)
    values = await kpi_values(session, kpis, windows.values())
    kind = trend_kind(view)
    last = period_containing(kind, view.through if view.started else view.start)
    trend_of = await trends(session, kpis, kind=kind, last=last, today=today, filters=filters)
    money_in = await reporting_currency(session, kpis[0].org_id)
    cards = []
    for kpi in kpis:
        row = _in_force(rows_of[kpi.id], view.through) if kpi.id in rows_of else None
        fits = row is None or (row.target_start, row.target_end) == (view.start, view.end)
        value = values[windows[(kpi.id, "value")]] if (kpi.id, "value") in windows else None
        if row is not None and fits and not extra:
            value = row.value  # the view is the target's period: the number the evaluation judged
        compared = values[windows[(kpi.id, "compared")]] if (kpi.id, "compared") in windows else None
        cards.append(
            Card(
                kpi=kpi,
                team=teams.get(kpi.owner_team_id) if kpi.owner_team_id else None,
                currency=money_in if kpi.unit == MetricUnit.currency else None,
                row=row,
                value=value,
                compared=compared,
                trend=trend_of.get(kpi.id, []),
                target_fits=fits,
            )
        )
    order = {c.value: i for i, c in enumerate(scorecard_service.CATEGORIES)}
    cards.sort(key=lambda c: (order[c.kpi.category.value], c.kpi.name.lower(), str(c.kpi.id)))
    return cards


async def overview(session: AsyncSession, *, org_id: uuid.UUID, view: View, today: date | None = None) -> dict:
    today = today or await session_today(session)
    cards = await view_cards(session, view, today)
    by_category: dict[str, list[Card]] = {c.value: [] for c in scorecard_service.CATEGORIES}
    for card in cards:
        by_category[card.kpi.category.value].append(card)
    counts = {key: sum(1 for c in cards if c.row is not None and (c.row.status or "no_data") == key) for key in STATUS}
    counts["no_target"] = sum(1 for c in cards if c.row is None)

    plans = (
        await session.scalars(
            select(Plan)
            .where(
                Plan.start_date <= view.end,
                Plan.end_date >= view.start,
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
    previous, following = neighbours(view)
    return {
        "org": org,
        "view": view,
        "previous": previous,
        "following": following,
        "today": today,
        "cards": by_category,
        "all_cards": cards,
        "counts": counts,
        "total": len(cards),
        "budgets": budgets,
        "department": department,
    }


def _bar_label(name: str, actual: Decimal | None, planned: Decimal, currency: str) -> str:
    spent = _("spend unknown (an exchange rate is missing)") if actual is None else formatting.money(actual, currency)
    return _("%(line)s: %(spent)s of %(planned)s") % {
        "line": name,
        "spent": spent,
        "planned": formatting.money(planned, currency),
    }


async def _plan_budget(session: AsyncSession, plan: Plan, today: date) -> PlanBudget | None:
    try:
        report = await budget_report(session, plan_id=plan.id, today=today)
    except NotFound:  # a plan without a budget yet
        return None
    bars = {
        line.line_id: budget_bar(
            line.planned,
            line.actual or Decimal(0),
            label=_bar_label(line.name or line.channel or _("Line"), line.actual, line.planned, report.currency),
        )
        for line in report.lines
    }
    total = budget_bar(
        report.totals.planned,
        report.totals.actual or Decimal(0),
        label=_bar_label(_("All lines"), report.totals.actual, report.totals.planned, report.currency),
    )
    return PlanBudget(plan=plan, report=report, bars=bars, total_bar=total)


async def kpi_page(
    session: AsyncSession,
    *,
    kpi_id: uuid.UUID,
    view: View,
    filters: dict[str, str] | None = None,
    today: date | None = None,
) -> dict:
    """One KPI in the view: its card (value, comparison, a larger trend), the drill-down by each dimension its
    metrics carry (narrowed by `filters`), the target in force with its levels, its alerts and status changes."""
    today = today or await session_today(session)
    kpi = await get_or_404(session, Kpi, kpi_id)
    filters = filters or {}
    [card] = await view_cards(session, view, today, kpis=[kpi], filters=filters)
    breakdowns = (
        await drill_down(session, kpi, start=view.start, end=view.through, filters=filters) if view.started else []
    )
    current = await session.get(KpiTarget, card.row.target_id) if card.row is not None else None
    chart = None
    if (
        current is not None
        and (current.end_date - current.start_date).days < MAX_CHART_DAYS
        and current.start_date <= today
    ):
        series = await to_date_series(session, [(kpi, current)], today)
        chart = line_chart(
            series[current.id],
            current.start_date,
            current.end_date,
            chart_levels(kpi, current, with_thresholds=True),
            label=_("%(name)s to date with its target, warning and critical levels") % {"name": kpi.name},
            fmt=lambda v: formatting.value(v, kpi.unit.value, card.currency),
            names=level_names(),
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
    previous, following = neighbours(view)
    return {
        "org": await session.get(Org, kpi.org_id),
        "kpi": kpi,
        "view": view,
        "previous": previous,
        "following": following,
        "filters": filters,
        "card": card,
        "breakdowns": breakdowns,
        "target": current,
        "thresholds": thresholds_of(kpi, current) if current else None,
        "row": card.row,
        "status": card.status,
        "chart": chart,
        "transitions": evaluations,
        "alerts": alerts,
        "today": today,
    }
