"""Evaluations of KPI targets, the alert state per target, and alerts (open → acknowledged → resolved)."""

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, IdMixin, TimestampMixin, UTCDateTime, str_enum
from shared.db.scoping import OrgScoped
from shared.kpis.evaluation import Status
from shared.kpis.state_machine import TargetState

# |x| < 1e16. The evaluation job stores a number past that (a formula × 10^12, an attainment against a tiny
# target) as null and says so in the reason, rather than fail the whole run (shared/alerts/evaluate.py).
VALUE = Numeric(24, 8)


class AlertStatus(enum.StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class Severity(enum.StrEnum):
    warning = "warning"  # at_risk
    critical = "critical"  # off_track
    no_data = "no_data"


class EvaluationTrigger(enum.StrEnum):
    ingest = "ingest"
    schedule = "schedule"
    target_change = "target_change"
    fx_rates = "fx_rates"  # exchange rates given or corrected (PUT /v1/fx-rates)


class KpiEvaluation(IdMixin, OrgScoped, Base):
    """One evaluation of a KPI against a target, with the numbers behind its status."""

    __tablename__ = "kpi_evaluations"
    __table_args__ = (Index("ix_kpi_evaluations_kpi_time", "kpi_id", "evaluated_at"),)

    kpi_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"))
    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpi_targets.id", ondelete="CASCADE"), index=True)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    as_of: Mapped[date] = mapped_column(Date)
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal | None] = mapped_column(VALUE)
    expected_to_date: Mapped[Decimal | None] = mapped_column(VALUE)
    forecast: Mapped[Decimal | None] = mapped_column(VALUE)
    attainment_pct: Mapped[Decimal | None] = mapped_column(VALUE)
    observed_status: Mapped[Status] = mapped_column(str_enum(Status, "evaluation_status"))
    status: Mapped[Status | None] = mapped_column(str_enum(Status, "evaluation_confirmed_status"))
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text)
    trigger: Mapped[EvaluationTrigger] = mapped_column(str_enum(EvaluationTrigger, "evaluation_trigger"))
    transition_from: Mapped[Status | None] = mapped_column(str_enum(Status, "evaluation_transition_from"))
    transition_to: Mapped[Status | None] = mapped_column(str_enum(Status, "evaluation_transition_to"))
    transition_reason: Mapped[str | None] = mapped_column(Text)


class KpiTargetState(OrgScoped, Base):
    """The alert state machine's memory for one target (shared/kpis/state_machine.py)."""

    __tablename__ = "kpi_target_states"

    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpi_targets.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[Status | None] = mapped_column(str_enum(Status, "target_state_status"))
    candidate: Mapped[Status | None] = mapped_column(str_enum(Status, "target_state_candidate"))
    candidate_count: Mapped[int] = mapped_column(Integer, default=0)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def remembered(self) -> TargetState:
        """What the state machine remembers, as it reads it."""
        return TargetState(self.status, self.candidate, self.candidate_count, self.since)


class Alert(IdMixin, TimestampMixin, OrgScoped, Base):
    """One alert per KPI target at a time: escalation updates it, recovery resolves it."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_one_unresolved_per_target",
            "target_id",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
            sqlite_where=text("status <> 'resolved'"),
        ),
        Index("ix_alerts_org_status", "org_id", "status"),
    )

    kpi_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpi_targets.id", ondelete="CASCADE"))
    status: Mapped[AlertStatus] = mapped_column(str_enum(AlertStatus, "alert_status"), default=AlertStatus.open)
    severity: Mapped[Severity] = mapped_column(str_enum(Severity, "alert_severity"))
    reason: Mapped[str] = mapped_column(Text)
    last_value: Mapped[Decimal | None] = mapped_column(VALUE)
    period_label: Mapped[str | None] = mapped_column(String(40))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
