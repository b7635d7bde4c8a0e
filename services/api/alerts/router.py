"""Routes: a KPI's evaluations, and alerts (list, acknowledge)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.api.alerts import service
from services.api.alerts.schemas import AlertOut, EvaluationOut
from services.api.deps import Editor, Reader, SessionDep
from services.api.pagination import PageDep
from services.api.problems import V1_ERRORS, problem_responses
from services.api.schemas import Day, Page
from shared.alerts.models import AlertStatus, Severity

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
    rows, cursor = await service.list_evaluations(
        session, kpi_id=kpi_id, page=page, target_id=target_id, transitions_only=transitions_only
    )
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
    """Alerts, oldest first; filter by status, severity, KPI, period or the days they opened (`opened_from` to
    `opened_to`, both included: local days in the organisation's time zone). One alert per KPI target is open at
    a time: escalation updates it, recovery resolves it."""
    rows, cursor = await service.list_alerts(
        session,
        page=page,
        status=status,
        severity=severity,
        kpi_id=kpi_id,
        period=period,
        opened_from=opened_from,
        opened_to=opened_to,
    )
    return Page[AlertOut](items=[AlertOut.model_validate(a) for a in rows], next_cursor=cursor)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut, responses=problem_responses(409))
async def acknowledge_alert(alert_id: uuid.UUID, session: SessionDep, caller: Editor) -> AlertOut:
    """Acknowledge an open alert: someone is on it. Re-notifications stop; it still resolves by itself when
    the KPI recovers. A resolved alert cannot be acknowledged (409); acknowledging twice is harmless."""
    alert = await service.acknowledge(session, alert_id=alert_id, key_id=caller.key_id)
    return AlertOut.model_validate(alert)
