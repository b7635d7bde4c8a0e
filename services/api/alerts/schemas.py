"""Response bodies of evaluations and alerts."""

import uuid
from datetime import date

from pydantic import Field

from services.api.schemas import Id, Number, Output, Timestamp
from shared.alerts.models import AlertStatus, EvaluationTrigger, Severity
from shared.kpis.evaluation import Status


class EvaluationOut(Output):
    id: Id
    kpi_id: Id
    target_id: Id
    evaluated_at: Timestamp
    as_of: date = Field(examples=["2026-11-14"])
    window_start: date
    window_end: date
    value: Number | None = Field(examples=["48.20"])
    expected_to_date: Number | None
    forecast: Number | None
    attainment_pct: Number | None = Field(examples=["96.4"])
    observed_status: Status = Field(examples=["at_risk"], description="What this evaluation saw")
    status: Status | None = Field(examples=["on_track"], description="The confirmed status after pending/hysteresis")
    provisional: bool = Field(description="The window includes days a source may still restate")
    reason: str = Field(examples=["CPA 48.20 is above the warning level 45"])
    trigger: EvaluationTrigger
    transition_from: Status | None
    transition_to: Status | None
    transition_reason: str | None


class AlertOut(Output):
    id: Id
    kpi_id: Id
    target_id: Id
    status: AlertStatus = Field(examples=["open"])
    severity: Severity = Field(examples=["critical"])
    reason: str = Field(examples=["CPA 52.10 has been above the critical level 50 for 2 evaluations"])
    last_value: Number | None
    period_label: str | None = Field(examples=["2026-11"])
    opened_at: Timestamp
    escalated_at: Timestamp | None
    acknowledged_at: Timestamp | None
    acknowledged_by_key_id: uuid.UUID | None
    resolved_at: Timestamp | None
    last_notified_at: Timestamp | None
