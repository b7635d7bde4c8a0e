"""Response bodies of a KPI's values: the value series, the suggested target from its history, and objective
progress."""

import uuid
from datetime import date
from typing import Any

from pydantic import Field

from services.api.schemas import Id, Number, Output
from shared.kpis.evaluation import Pacing, Status, ThresholdMode


class HistoryPoint(Output):
    period: str = Field(examples=["2026-Q4"])
    value: Number | None = Field(examples=["23500"])


class SuggestedLevels(Output):
    """Ready to send as a target's levels: absolute thresholds; the *_high ends for a `target_range` KPI only."""

    target_value: Number = Field(examples=["26100"], description="The target; for a range, its low end")
    target_high: Number | None = Field(default=None, examples=[None])
    warning: Number
    critical: Number
    warning_high: Number | None = Field(default=None, examples=[None])
    critical_high: Number | None = Field(default=None, examples=[None])
    threshold_mode: ThresholdMode = ThresholdMode.absolute
    pacing: Pacing


class SuggestedTarget(Output):
    kpi_id: Id
    period: str = Field(examples=["2027-Q1"])
    enough_history: bool
    explanation: str = Field(
        examples=[
            "least-squares trend over the last 6 periods: 10 a period, projected one period ahead to 160; warning "
            "one standard deviation of the history on the worse side, critical two"
        ]
    )
    suggestion: SuggestedLevels | None
    numbers: dict[str, Any] = Field(description="The figures behind the suggestion", examples=[{"mean": "24000"}])
    history: list[HistoryPoint]


class KpiProgress(Output):
    kpi_id: Id
    name: str = Field(examples=["Leads"])
    weight: Number
    target_id: uuid.UUID | None
    period: str | None
    value: Number | None
    expected_to_date: Number | None
    attainment_pct: Number | None
    status: Status | None


class ObjectiveProgress(Output):
    objective_id: Id
    as_of: date
    progress_pct: Number | None = Field(
        examples=["82.50"], description="Weighted mean of the KPIs' attainment, each capped at 100%"
    )
    kpis: list[KpiProgress]


class ValuePoint(Output):
    period: str = Field(examples=["2026-11-02"], description="The day, ISO week or month")
    start: date
    end: date
    value: Number | None = Field(
        examples=["2.35"], description="Money in the organisation's reporting currency; null: no data, or `unconverted`"
    )
    unconverted: str | None = Field(
        default=None,
        description="Why there is no value although there is data: some day's money has no exchange rate into the "
        "reporting currency (the first such pair and day)",
        examples=[None],
    )


class KpiValues(Output):
    kpi_id: Id
    grain: str = Field(examples=["day"])
    currency: str | None = Field(
        default=None,
        description="For a KPI whose unit is `currency`: the organisation's reporting currency the values are in",
        examples=["VND"],
    )
    values: list[ValuePoint]
