"""A KPI's evaluations and the alerts: the lists the API reads, and the acknowledgement the dashboard shares."""

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import get_or_404
from services.api.pagination import PageParams, fetch_page
from services.api.problems import Conflict
from shared.alerts.models import Alert, AlertStatus, KpiEvaluation, Severity
from shared.kpis.models import Kpi
from shared.orgs.clock import day_start, session_zone


async def list_evaluations(
    session: AsyncSession, *, kpi_id: uuid.UUID, page: PageParams, target_id: uuid.UUID | None, transitions_only: bool
) -> tuple[list[KpiEvaluation], str | None]:
    """A KPI's evaluations, oldest first (404 for a KPI that is not the caller's)."""
    await get_or_404(session, Kpi, kpi_id)
    stmt = select(KpiEvaluation).where(KpiEvaluation.kpi_id == kpi_id)
    if target_id is not None:
        stmt = stmt.where(KpiEvaluation.target_id == target_id)
    if transitions_only:
        stmt = stmt.where(KpiEvaluation.transition_to.is_not(None))
    return await fetch_page(session, stmt, KpiEvaluation.id, page)


async def list_alerts(
    session: AsyncSession,
    *,
    page: PageParams,
    status: AlertStatus | None,
    severity: Severity | None,
    kpi_id: uuid.UUID | None,
    period: str | None,
    opened_from: date | None,
    opened_to: date | None,
) -> tuple[list[Alert], str | None]:
    """Alerts, oldest first, filtered by status, severity, KPI, period label or the days they opened (the
    organisation's local days)."""
    stmt = select(Alert)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    if severity is not None:
        stmt = stmt.where(Alert.severity == severity)
    if kpi_id is not None:
        stmt = stmt.where(Alert.kpi_id == kpi_id)
    if period is not None:
        stmt = stmt.where(Alert.period_label == period.upper())
    if opened_from is not None or opened_to is not None:
        tz = await session_zone(session)  # the days are the organisation's local days
        if opened_from is not None:
            stmt = stmt.where(Alert.opened_at >= day_start(opened_from, tz))
        if opened_to is not None:
            stmt = stmt.where(Alert.opened_at < day_start(opened_to + timedelta(days=1), tz))
    return await fetch_page(session, stmt, Alert.id, page)


async def acknowledge(session: AsyncSession, *, alert_id: uuid.UUID, key_id: uuid.UUID) -> Alert:
    """Someone is on it: re-notifications stop; it still resolves by itself when the KPI recovers. A resolved
    alert cannot be acknowledged (409); acknowledging twice is harmless."""
    alert = await get_or_404(session, Alert, alert_id)
    if alert.status == AlertStatus.resolved:
        raise Conflict(f"Alert {alert.id} is already resolved.")
    if alert.status == AlertStatus.open:
        alert.status = AlertStatus.acknowledged
        alert.acknowledged_at, alert.acknowledged_by_key_id = datetime.now(UTC), key_id
        await session.flush()
    return alert
