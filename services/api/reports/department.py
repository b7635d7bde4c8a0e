"""The department report: objectives with their SMART check and progress from KPIs, the team tree with
headcounts, open alerts, and a summary, built from the services that answer each part on its own.

A constant number of statements whatever the number of objectives, KPIs, teams or alerts: the overview (4),
objectives with goals and their linked-KPI counts (2), progress (3 to 6), open alerts and their count by
severity (2), KPIs by status (1).
"""

from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.department import service as department_service
from services.api.kpis.values.service import objectives_progress
from services.api.reports.schemas import (
    DepartmentReport,
    GoalRef,
    KpiRef,
    ReportAlert,
    ReportObjective,
    ReportSummary,
)
from services.api.strategy import service as strategy_service
from services.api.strategy.schemas import SmartOut
from shared.alerts.models import Alert, AlertStatus, KpiTargetState, Severity
from shared.kpis.evaluation import Status
from shared.kpis.models import Kpi, KpiTarget
from shared.orgs.clock import session_today
from shared.strategy.smart import Verdict

OPEN_ALERTS_SHOWN = 100
UNRESOLVED = (AlertStatus.open, AlertStatus.acknowledged)


async def department_report(session: AsyncSession, *, as_of: date | None = None) -> DepartmentReport:
    """The whole department on one page, with KPI progress for the period containing as_of (default the
    organisation's today)."""
    as_of = as_of or await session_today(session)
    overview = await department_service.overview(session)
    checked = await strategy_service.all_objectives(session)
    progress = await objectives_progress(session, objective_ids=[o.id for o, _ in checked], as_of=as_of)
    objectives = [
        ReportObjective(
            id=o.id,
            statement=o.statement,
            status=o.status,
            owner_team_id=o.owner_team_id,
            start_date=o.start_date,
            deadline=o.deadline,
            business_goal=GoalRef(id=o.business_goal.id, title=o.business_goal.title) if o.business_goal else None,
            smart=SmartOut.model_validate(smart),
            progress_pct=progress[o.id].progress_pct,
            kpis=progress[o.id].kpis,
        )
        for o, smart in checked
    ]
    alerts, by_severity = await _open_alerts(session)
    by_verdict = {v.value: 0 for v in Verdict}
    for _, smart in checked:
        by_verdict[smart.overall.value] += 1
    by_status = await _kpis_by_status(session, as_of)
    return DepartmentReport(
        as_of=as_of,
        department=overview.department if overview.department.configured else None,
        teams=overview.teams,
        team_totals=overview.totals,
        objectives=objectives,
        open_alerts=alerts,
        open_alerts_total=sum(by_severity.values()),
        summary=ReportSummary(
            objectives=len(objectives),
            objectives_by_smart=by_verdict,
            kpis=sum(by_status.values()),
            kpis_by_status=by_status,
            open_alerts_by_severity=by_severity,
        ),
    )


async def _open_alerts(session: AsyncSession) -> tuple[list[ReportAlert], dict[str, int]]:
    """The newest OPEN_ALERTS_SHOWN unresolved alerts with their KPI's name, and all of them by severity."""
    rows = (
        await session.execute(
            select(Alert, Kpi.name)
            .join(Kpi, Kpi.id == Alert.kpi_id)
            .where(Alert.status.in_(UNRESOLVED))
            .order_by(Alert.opened_at.desc(), Alert.id.desc())
            .limit(OPEN_ALERTS_SHOWN)
        )
    ).all()
    alerts = [
        ReportAlert(
            id=a.id,
            kpi=KpiRef(id=a.kpi_id, name=kpi_name),
            target_id=a.target_id,
            severity=a.severity,
            status=a.status,
            reason=a.reason,
            last_value=a.last_value,
            period_label=a.period_label,
            opened_at=a.opened_at,
            acknowledged_at=a.acknowledged_at,
        )
        for a, kpi_name in rows
    ]
    counts = dict(
        (
            await session.execute(
                select(Alert.severity, func.count()).where(Alert.status.in_(UNRESOLVED)).group_by(Alert.severity)
            )
        ).all()
    )
    return alerts, {s.value: counts.get(s, 0) for s in Severity}


async def _kpis_by_status(session: AsyncSession, as_of: date) -> dict[str, int]:
    """Every KPI by the confirmed status of its target for the period containing as_of, in one grouped query."""
    rows = (
        await session.execute(
            select(KpiTargetState.status, func.count(Kpi.id), func.count(KpiTarget.id))
            .select_from(Kpi)
            .outerjoin(
                KpiTarget,
                and_(KpiTarget.kpi_id == Kpi.id, KpiTarget.start_date <= as_of, KpiTarget.end_date >= as_of),
            )
            .outerjoin(KpiTargetState, KpiTargetState.target_id == KpiTarget.id)
            .group_by(KpiTargetState.status)
        )
    ).all()
    counts = {s.value: 0 for s in Status} | {"unconfirmed": 0, "no_target": 0}
    for status, kpis, with_target in rows:
        if status is not None:
            counts[Status(status).value] += kpis
        else:
            counts["unconfirmed"] += with_target
            counts["no_target"] += kpis - with_target
    return counts
