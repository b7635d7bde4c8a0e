"""KPIs: definitions (a formula over the metric store's metrics, shared/metrics), their targets per period with
thresholds and revision history, and links to objectives."""

import enum
import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, IdMixin, TimestampMixin, UpdatedMixin, str_enum
from shared.db.scoping import OrgScoped
from shared.kpis.evaluation import Direction, Pacing, ThresholdMode
from shared.metrics.models import MetricUnit

VALUE = Numeric(24, 8)


class KpiCategory(enum.StrEnum):
    input = "input"  # resources invested: spend, hours, headcount
    output = "output"  # campaign results: clicks, leads, CTR, CPC
    impact = "impact"  # effect on business goals: revenue, CAC, NPS


class KpiKind(enum.StrEnum):
    quantitative = "quantitative"
    qualitative = "qualitative"


class Frequency(enum.StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    quarterly = "quarterly"


class PeriodKind(enum.StrEnum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    half = "half"
    year = "year"
    custom = "custom"


class NoDataPolicy(enum.StrEnum):
    no_data = "no_data"  # the status becomes no_data
    keep_last = "keep_last"  # the last status stands
    zero = "zero"  # missing metrics count as 0


class Kpi(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    __tablename__ = "kpis"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[KpiCategory] = mapped_column(str_enum(KpiCategory, "kpi_category"), index=True)
    kind: Mapped[KpiKind] = mapped_column(str_enum(KpiKind, "kpi_kind"), default=KpiKind.quantitative)
    formula: Mapped[str] = mapped_column(String(500))
    unit: Mapped[MetricUnit] = mapped_column(str_enum(MetricUnit, "kpi_unit"))
    display_format: Mapped[str | None] = mapped_column(String(50))
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "kpi_direction"))
    frequency: Mapped[Frequency] = mapped_column(str_enum(Frequency, "kpi_frequency"), default=Frequency.monthly)
    dimension_filter: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    owner_team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    owner_member_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id", ondelete="RESTRICT"))
    template_key: Mapped[str | None] = mapped_column(String(64))
    # Bumped by every change to the KPI's targets: the UPDATE is the lock that keeps periods from overlapping.
    version: Mapped[int] = mapped_column(Integer, default=1)


class KpiMetric(OrgScoped, Base):
    """A metric a KPI's formula reads: lets the engine find the KPIs a metric touches."""

    __tablename__ = "kpi_metrics"
    __table_args__ = (Index("ix_kpi_metrics_org_metric", "org_id", "metric_key"),)

    kpi_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"), primary_key=True)
    metric_key: Mapped[str] = mapped_column(String(64), primary_key=True)


class ObjectiveKpi(OrgScoped, Base):
    """A KPI that measures an objective, with its weight in the objective's progress."""

    __tablename__ = "objective_kpis"
    __table_args__ = (CheckConstraint("weight > 0", name="weight_positive"),)

    objective_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("objectives.id", ondelete="CASCADE"), primary_key=True)
    kpi_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"), primary_key=True, index=True)
    weight: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal(1))


class KpiTarget(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    """A KPI's target for one period, with thresholds and the evaluation options."""

    __tablename__ = "kpi_targets"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint("pending_evaluations >= 1", name="pending_positive"),
        Index("ix_kpi_targets_kpi_period", "kpi_id", "start_date", "end_date"),
    )

    kpi_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"))
    period_kind: Mapped[PeriodKind] = mapped_column(str_enum(PeriodKind, "target_period_kind"))
    period_label: Mapped[str | None] = mapped_column(String(20))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    target_value: Mapped[Decimal] = mapped_column(VALUE)
    target_high: Mapped[Decimal | None] = mapped_column(VALUE)
    threshold_mode: Mapped[ThresholdMode] = mapped_column(str_enum(ThresholdMode, "threshold_mode"))
    # As given: absolute values, or % of target when threshold_mode is percent (see shared/kpis/evaluation.py).
    warning: Mapped[Decimal | None] = mapped_column(VALUE)
    critical: Mapped[Decimal | None] = mapped_column(VALUE)
    warning_high: Mapped[Decimal | None] = mapped_column(VALUE)
    critical_high: Mapped[Decimal | None] = mapped_column(VALUE)
    pacing: Mapped[Pacing] = mapped_column(str_enum(Pacing, "target_pacing"))
    baseline: Mapped[Decimal | None] = mapped_column(VALUE)
    pending_evaluations: Mapped[int] = mapped_column(Integer, default=1)
    recovery_margin_pct: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal(0))
    no_data_policy: Mapped[NoDataPolicy] = mapped_column(
        str_enum(NoDataPolicy, "no_data_policy"), default=NoDataPolicy.no_data
    )


class KpiTargetRevision(IdMixin, TimestampMixin, OrgScoped, Base):
    """One change to a target's value or thresholds: old, new, who, when, why."""

    __tablename__ = "kpi_target_revisions"

    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("kpi_targets.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    old: Mapped[dict] = mapped_column(JSON)
    new: Mapped[dict] = mapped_column(JSON)
    by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
