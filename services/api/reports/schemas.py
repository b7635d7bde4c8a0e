"""Response bodies of the reports."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from services.api.plans.schemas import BudgetReport
from services.api.schemas import Id, Number, Output


class ScorecardRow(Output):
    kpi_id: Id
    name: str = Field(examples=["CPA"])
    category: str = Field(examples=["output"])
    unit: str = Field(examples=["currency"])
    direction: str = Field(examples=["lower_is_better"])
    owner_team_id: uuid.UUID | None
    owner_team: str | None = Field(examples=["Paid media"])
    target_id: Id
    period: str = Field(examples=["2026-11"])
    target_value: Number
    value: Number | None
    expected_to_date: Number | None
    forecast: Number | None
    attainment_pct: Number | None
    status: str | None = Field(examples=["at_risk"])
    provisional: bool
    evaluated_at: datetime | None = Field(description="null: not evaluated yet; the numbers are computed live")
    previous_value: Number | None = Field(description="The KPI over the period of the same length just before")
    change_pct: Number | None = Field(examples=["-4.2"])


class ScorecardGroup(Output):
    category: str = Field(examples=["input"])
    kpis: list[ScorecardRow]


class Scorecard(Output):
    period: str = Field(examples=["2026-11"])
    start: date
    end: date
    groups: list[ScorecardGroup]


class BudgetReportOut(BudgetReport):
    elapsed_share: Decimal = Field(examples=["0.9333"], description="Share of the plan's period elapsed")
    spent_share: Decimal | None = Field(examples=["0.8810"], description="actual ÷ budget total")
    pacing: Decimal | None = Field(
        examples=["-0.0523"], description="spent_share − elapsed_share: above 0 spends ahead of time"
    )
