"""Routes: a KPI's evaluations, and alerts (list, acknowledge)."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from services.api.alerts import service
from services.api.alerts.schemas import AlertOut, EvaluationOut
from services.api.crud import get_or_404
from services.api.deps import Editor, Reader, SessionDep
from services.api.pagination import PageDep, fetch_page
from services.api.problems import V1_ERRORS, problem_responses
from services.api.schemas import Day, Page
from shared.alerts.models import Alert, AlertStatus, KpiEvaluation, Severity
from shared.kpis.models import Kpi

router = APIRouter(prefix="/v1", tags=["alerts"], responses=V1_ERRORS)


@router.get("/kpis/{kpi_id}/evaluations", response_model=Page[EvaluationOut])
async def list_evaluations(
    kpi_id: uuid.UUID,
    session: SessionDep,
    _: Reader,
    page: PageDep,
    target_id: uuid.UUID | None = None,
    transitions_only: Annotated[bool, Query(description="Only evaluations that changed the status")] = False,
) -> Page[EvaluationOut]:
    """The KPI's evaluations, oldest first, each with the numbers behind its status: value, expected to date,
    forecast, attainment, the observed and the confirmed status, and the transition with its reason."""
    await get_or_404(session, Kpi, kpi_id)
    stmt = select(KpiEvaluation).where(KpiEvaluation.kpi_id == kpi_id)
    if target_id is not None:
        stmt = stmt.where(KpiEvaluation.target_id == target_id)
    if transitions_only:
        stmt = stmt.where(KpiEvaluation.transition_to.is_not(None))
    rows, cursor = await fetch_page(session, stmt, KpiEvaluation.id, page)
    return Page[EvaluationOut](items=[EvaluationOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/alerts", response_model=Page[AlertOut])
async def list_alerts(
    session: SessionDep,
    _: Reader,
    page: PageDep,
    status: AlertStatus | None = None,
    severity: Severity | None = None,
    kpi_id: uuid.UUID | None = None,
    period: Annotated[str | None, Query(description="The target's period label, e.g. 2026-11")] = None,
    opened_from: Day | None = None,
    opened_to: Day | None = None,
) -> Page[AlertOut]:
    """Alerts, oldest first; filter by status, severity, KPI, period or when they opened. One alert per KPI
    target is open at a time: escalation updates it, recovery resolves it."""
    stmt = select(Alert)
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    if severity is not None:
        stmt = stmt.where(Alert.severity == severity)
    if kpi_id is not None:
        stmt = stmt.where(Alert.kpi_id == kpi_id)
    if period is not None:
        stmt = stmt.where(Alert.period_label == period.upper())
    if opened_from is not None:
        stmt = stmt.where(Alert.opened_at >= datetime.combine(opened_from, datetime.min.time(), UTC))
    if opened_to is not None:
        stmt = stmt.where(Alert.opened_at < datetime.combine(opened_to, datetime.max.time(), UTC))
    rows, cursor = await fetch_page(session, stmt, Alert.id, page)
    return Page[AlertOut](items=[AlertOut.model_validate(a) for a in rows], next_cursor=cursor)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut, responses=problem_responses(409))
async def acknowledge_alert(alert_id: uuid.UUID, session: SessionDep, caller: Editor) -> AlertOut:
    """Acknowledge an open alert: someone is on it. Re-notifications stop; it still resolves by itself when
    the KPI recovers. A resolved alert cannot be acknowledged (409); acknowledging twice is harmless."""
    alert = await service.acknowledge(session, alert_id=alert_id, key_id=caller.key_id)
    return AlertOut.model_validate(alert)
