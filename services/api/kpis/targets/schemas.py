"""Request and response bodies of KPI targets and their revisions."""

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from services.api.schemas import Day, Id, Input, Number, Output, Timestamp, UpdateInput, check_date_order
from shared.kpis.evaluation import Pacing, ThresholdMode
from shared.kpis.models import NoDataPolicy, PeriodKind
from shared.periods import parse_period

# Values and levels hold 24 digits, 8 after the point: a target's magnitude stays below 10^16.
TARGET_LIMIT = Decimal("1e16")
Value = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=24, decimal_places=8, examples=["25000"])]
Level = Annotated[
    Decimal | None,
    Field(
        default=None,
        allow_inf_nan=False,
        max_digits=24,
        decimal_places=8,
        description="An absolute value, or % of the target when threshold_mode is `percent`",
        examples=["90"],
    ),
]


class TargetCreate(Input):
    """A target for one period: give `period` (`2027-Q1`, `2027-03`, `2027-W05`…) or custom dates."""

    period: str | None = Field(default=None, max_length=20, examples=["2027-Q1"])
    start_date: Day | None = None
    end_date: Day | None = None
    target_value: Value = Field(description="The target; for a `target_range` KPI the low end of the range")
    target_high: Level = Field(default=None, description="`target_range` KPIs only: the high end", examples=[None])
    threshold_mode: ThresholdMode = ThresholdMode.percent
    warning: Level = None
    critical: Level = Field(default=None, examples=["75"])
    warning_high: Level = Field(default=None, examples=[None])
    critical_high: Level = Field(default=None, examples=[None])
    pacing: Pacing | None = Field(
        default=None,
        description="`linear` for cumulative KPIs (expected to date = target × elapsed share), `none` for ratios. "
        "Default: linear when the formula is one summed metric, else none; always none for a `target_range` KPI "
        "(a band is not cumulative).",
    )
    baseline: Level = Field(default=None, description="Where the KPI stood before", examples=["18000"])
    pending_evaluations: int = Field(default=1, ge=1, le=100, description="Evaluations a new status must hold")
    recovery_margin_pct: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=100,
        max_digits=6,
        decimal_places=2,
        description="How far past the warning level a value must come back before an alert resolves (hysteresis)",
    )
    no_data_policy: NoDataPolicy = NoDataPolicy.no_data

    @field_validator("period")
    @classmethod
    def _label(cls, label: str | None) -> str | None:
        return None if label is None else parse_period(label).label

    @model_validator(mode="after")
    def _period(self) -> "TargetCreate":
        if self.period is not None:
            period = parse_period(self.period)
            clashes = [
                f"{name} {given} is not the {edge} of {period.label} ({expected})"
                for name, edge, given, expected in (
                    ("start_date", "start", self.start_date, period.start),
                    ("end_date", "end", self.end_date, period.end),
                )
                if given is not None and given != expected
            ]
            if clashes:
                raise ValueError(
                    f"{'; '.join(clashes)}: send a period or start_date and end_date (or dates matching the period)"
                )
            self.start_date, self.end_date = period.start, period.end
        if self.start_date is None or self.end_date is None:
            raise ValueError("give a period (e.g. 2027-Q1), or both start_date and end_date")
        check_date_order(self.start_date, self.end_date, start_name="start_date", end_name="end_date")
        return self


class TargetUpdate(UpdateInput):
    """Changing the value or a threshold needs a `reason`; it is kept in the target's revisions."""

    not_null = frozenset(
        {"target_value", "threshold_mode", "pacing", "pending_evaluations", "recovery_margin_pct", "no_data_policy"}
    )

    target_value: Value | None = None
    target_high: Level = None
    threshold_mode: ThresholdMode | None = None
    warning: Level = None
    critical: Level = None
    warning_high: Level = None
    critical_high: Level = None
    pacing: Pacing | None = None
    baseline: Level = None
    pending_evaluations: int | None = Field(default=None, ge=1, le=100)
    recovery_margin_pct: Decimal | None = Field(default=None, ge=0, le=100, max_digits=6, decimal_places=2)
    no_data_policy: NoDataPolicy | None = None
    reason: str | None = Field(
        default=None, min_length=3, max_length=2000, examples=["Q1 launch slipped two weeks; lowering the lead target"]
    )


class ResolvedLevels(Output):
    """The thresholds as absolute values, after % of target is applied."""

    target: Number
    target_high: Number | None
    warning: Number | None
    critical: Number | None
    warning_high: Number | None
    critical_high: Number | None


class TargetOut(Output):
    id: Id
    kpi_id: Id
    period_kind: PeriodKind = Field(examples=["quarter"])
    period_label: str | None = Field(examples=["2027-Q1"])
    start_date: date = Field(examples=["2027-01-01"])
    end_date: date = Field(examples=["2027-03-31"])
    target_value: Number = Field(examples=["25000"])
    target_high: Number | None
    threshold_mode: ThresholdMode
    warning: Number | None
    critical: Number | None
    warning_high: Number | None
    critical_high: Number | None
    pacing: Pacing
    baseline: Number | None
    pending_evaluations: int
    recovery_margin_pct: Number
    no_data_policy: NoDataPolicy
    resolved: ResolvedLevels
    created_at: Timestamp
    updated_at: Timestamp


class RevisionOut(Output):
    id: Id
    target_id: Id
    reason: str = Field(examples=["Q1 launch slipped two weeks"])
    old: dict[str, Any] = Field(examples=[{"target_value": "25000"}])
    new: dict[str, Any] = Field(examples=[{"target_value": "21000"}])
    by_key_id: uuid.UUID | None
    created_at: Timestamp
