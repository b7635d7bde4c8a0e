"""Request and response bodies of business goals, objectives (with their SMART check), segments and competitors."""

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, Field, PlainSerializer, StringConstraints, field_validator
from pydantic.json_schema import JsonDict, JsonValue

from services.api.schemas import Day, Input, Name, Output, Text, UpdateInput, check_date_order
from shared.numbers import plain_number, two_places
from shared.strategy.models import GoalStatus, ObjectiveStatus, Priority
from shared.strategy.smart import SmartCheck, Verdict

# Objective quantities fit Numeric(20, 6); returned as a plain decimal string ("150000", "2.5").
Quantity = Annotated[
    Decimal,
    Field(max_digits=20, decimal_places=6, description="Decimal; sent as a string or number, returned as a string"),
]
QuantityOut = Annotated[Decimal, PlainSerializer(plain_number, return_type=str)]
SharePct = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2, description="Percent of the market, 0 to 100"),
]
# Always two places ("18.50"), whether the value came from the request or the database.
SharePctOut = Annotated[Decimal, PlainSerializer(two_places, return_type=str)]
Statement = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
SizeUnit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Point = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
SizeEstimate = Annotated[int, Field(ge=0, le=2**63 - 1, examples=[42000])]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL, e.g. https://example.com")
    return value


Website = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=500),
    AfterValidator(_http_url),
    Field(examples=["https://shopfast.example"]),
]


# ---------------------------------------------------------------- business goals


class BusinessGoalCreate(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Grow online revenue 30% in 2027",
                    "description": "Web shop revenue from 10.0M to 13.0M EUR.",
                    "target_date": "2027-12-31",
                    "status": "active",
                }
            ]
        }
    )

    title: Title
    description: Text | None = None
    target_date: Day | None = None
    status: GoalStatus = Field(default=GoalStatus.active, description="active, achieved, missed or dropped")


class BusinessGoalUpdate(UpdateInput):
    """Only the fields sent change."""

    not_null = frozenset({"title", "status"})

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "achieved"}]})

    title: Title | None = None
    description: Text | None = None
    target_date: Day | None = None
    status: GoalStatus | None = None


class BusinessGoalOut(Output):
    id: uuid.UUID
    title: str = Field(examples=["Grow online revenue 30% in 2027"])
    description: str | None
    target_date: date | None
    status: GoalStatus
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- objectives


class ObjectiveCreate(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "statement": "Raise monthly online orders from returning customers to 12,000",
                    "business_goal_id": "01936f6e-1c2a-7b3d-9e4f-5a6b7c8d9e0f",
                    "owner_team_id": "01936f6e-2d3b-7c4e-8f50-6b7c8d9e0f1a",
                    "unit": "orders/month",
                    "baseline_value": "9000",
                    "target_value": "12000",
                    "start_date": "2027-01-01",
                    "deadline": "2027-12-31",
                    "status": "active",
                }
            ]
        }
    )

    statement: Statement = Field(description="What changes, for whom, by how much (1 to 500 characters)")
    description: Text | None = None
    business_goal_id: uuid.UUID | None = Field(default=None, description="The business goal it serves")
    owner_team_id: uuid.UUID | None = Field(default=None, description="The team accountable for it")
    unit: Unit | None = Field(default=None, examples=["orders/month"])
    baseline_value: Quantity | None = Field(default=None, description="Where it stands at the start")
    target_value: Quantity | None = Field(default=None, description="Where it should be by the deadline")
    start_date: Day | None = None
    deadline: Day | None = Field(default=None, description="On or after start_date")
    status: ObjectiveStatus = Field(
        default=ObjectiveStatus.draft, description="draft, active, achieved, missed or cancelled"
    )

    @field_validator("deadline")
    @classmethod
    def _deadline_after_start(cls, deadline: date | None, info) -> date | None:
        check_date_order(info.data.get("start_date"), deadline, start_name="start_date", end_name="deadline")
        return deadline


class ObjectiveUpdate(UpdateInput):
    """Only the fields sent change; null clears an optional field. The merged result is validated again."""

    not_null = frozenset({"statement", "status"})

    model_config = ConfigDict(json_schema_extra={"examples": [{"target_value": "13000", "deadline": "2028-03-31"}]})

    statement: Statement | None = None
    description: Text | None = None
    business_goal_id: uuid.UUID | None = None
    owner_team_id: uuid.UUID | None = None
    unit: Unit | None = None
    baseline_value: Quantity | None = None
    target_value: Quantity | None = None
    start_date: Day | None = None
    deadline: Day | None = None
    status: ObjectiveStatus | None = None


class CheckOut(Output):
    verdict: Verdict = Field(description="pass, warn or fail")
    reason: str = Field(examples=["needs +33% vs baseline in 12 months, within the 50%/year we call typical"])


_SMART_EXAMPLE: JsonDict = {
    "specific": {"verdict": "pass", "reason": "10 words naming a concrete outcome"},
    "measurable": {
        "verdict": "warn",
        "reason": "target 12000 orders/month set, but no KPI is linked yet to measure it",
    },
    "achievable": {
        "verdict": "pass",
        "reason": "needs +33% vs baseline in 12 months (33%/year), within the 50%/year we call typical",
    },
    "relevant": {"verdict": "pass", "reason": "serves an active business goal"},
    "time_bound": {"verdict": "pass", "reason": "deadline 2027-12-31"},
    "overall": "warn",
}


class SmartOut(Output):
    """The SMART check, computed on every read (it depends on today's date and the goal's status)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SMART_EXAMPLE]})

    specific: CheckOut
    measurable: CheckOut
    achievable: CheckOut
    relevant: CheckOut
    time_bound: CheckOut
    overall: Verdict = Field(description="The worst of the five")


class KpiLinkOut(Output):
    """A KPI that measures the objective. Links are made on the KPI (`objectives` on POST/PATCH /v1/kpis)."""

    kpi_id: uuid.UUID
    name: str = Field(examples=["Returning-customer orders"])
    weight: Annotated[Decimal, PlainSerializer(plain_number, return_type=str)] = Field(
        examples=["1"], description="The KPI's weight in the objective's progress"
    )


_KPI_LINKS_EXAMPLE: list[JsonValue] = [
    {"kpi_id": "01936f6e-5a6e-7f71-b283-9e0f1a2b3c4d", "name": "Returning-customer orders", "weight": "1"}
]


class ObjectiveOut(Output):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01936f6e-4f5d-7e60-a172-8d9e0f1a2b3c",
                    "statement": "Raise monthly online orders from returning customers to 12,000",
                    "description": None,
                    "business_goal_id": "01936f6e-1c2a-7b3d-9e4f-5a6b7c8d9e0f",
                    "owner_team_id": "01936f6e-2d3b-7c4e-8f50-6b7c8d9e0f1a",
                    "unit": "orders/month",
                    "baseline_value": "9000",
                    "target_value": "12000",
                    "start_date": "2027-01-01",
                    "deadline": "2027-12-31",
                    "status": "active",
                    "created_at": "2026-11-28T09:30:00Z",
                    "updated_at": "2026-11-28T09:30:00Z",
                    "kpis": _KPI_LINKS_EXAMPLE,
                    "smart": {
                        **_SMART_EXAMPLE,
                        "measurable": {"verdict": "pass", "reason": "target 12000 orders/month, measured by 1 KPI"},
                        "overall": "pass",
                    },
                }
            ]
        }
    )

    id: uuid.UUID
    statement: str = Field(examples=["Raise monthly online orders from returning customers to 12,000"])
    description: str | None
    business_goal_id: uuid.UUID | None
    owner_team_id: uuid.UUID | None
    unit: str | None
    baseline_value: QuantityOut | None = Field(examples=["9000"])
    target_value: QuantityOut | None = Field(examples=["12000"])
    start_date: date | None
    deadline: date | None
    status: ObjectiveStatus
    created_at: datetime
    updated_at: datetime
    kpis: list[KpiLinkOut] = Field(
        description="The KPIs that measure it, by name, with their weights (the count *measurable* uses). "
        "Read-only here: link a KPI with `objectives` on POST/PATCH /v1/kpis"
    )
    smart: SmartOut

    @classmethod
    def of(cls, objective: Any, smart: SmartCheck, kpis: Sequence[Any]) -> "ObjectiveOut":
        fields = {name: getattr(objective, name) for name in cls.model_fields if name not in ("smart", "kpis")}
        links = [KpiLinkOut(kpi_id=k.kpi_id, name=k.name, weight=k.weight) for k in kpis]
        return cls(**fields, kpis=links, smart=SmartOut.model_validate(smart))


# ---------------------------------------------------------------- market analysis


class SegmentCreate(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Mid-size retailers in DACH",
                    "description": "50-500 employees, own web shop",
                    "size_estimate": 42000,
                    "size_unit": "companies",
                    "priority": "high",
                }
            ]
        }
    )

    name: Name = Field(description="Unique in your organisation (case-insensitive)")
    description: Text | None = None
    size_estimate: SizeEstimate | None = None
    size_unit: SizeUnit | None = Field(default=None, examples=["companies"])
    priority: Priority = Field(default=Priority.medium, description="high, medium or low")


class SegmentUpdate(UpdateInput):
    """Only the fields sent change."""

    not_null = frozenset({"name", "priority"})

    model_config = ConfigDict(json_schema_extra={"examples": [{"priority": "low"}]})

    name: Name | None = None
    description: Text | None = None
    size_estimate: SizeEstimate | None = None
    size_unit: SizeUnit | None = None
    priority: Priority | None = None


class SegmentOut(Output):
    id: uuid.UUID
    name: str = Field(examples=["Mid-size retailers in DACH"])
    description: str | None
    size_estimate: int | None
    size_unit: str | None
    priority: Priority
    created_at: datetime
    updated_at: datetime


class CompetitorCreate(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "ShopFast",
                    "website": "https://shopfast.example",
                    "positioning": "Cheapest next-day delivery",
                    "strengths": ["price", "delivery speed"],
                    "weaknesses": ["customer service"],
                    "estimated_share_pct": "18.5",
                }
            ]
        }
    )

    name: Name = Field(description="Unique in your organisation (case-insensitive)")
    website: Website | None = None
    positioning: Text | None = None
    strengths: list[Point] = Field(default_factory=list, max_length=50, examples=[["price", "delivery speed"]])
    weaknesses: list[Point] = Field(default_factory=list, max_length=50, examples=[["customer service"]])
    estimated_share_pct: SharePct | None = Field(default=None, examples=["18.5"])


class CompetitorUpdate(UpdateInput):
    """Only the fields sent change; a list sent replaces the stored list."""

    not_null = frozenset({"name", "strengths", "weaknesses"})

    model_config = ConfigDict(json_schema_extra={"examples": [{"estimated_share_pct": "21"}]})

    name: Name | None = None
    website: Website | None = None
    positioning: Text | None = None
    strengths: list[Point] | None = Field(default=None, max_length=50)
    weaknesses: list[Point] | None = Field(default=None, max_length=50)
    estimated_share_pct: SharePct | None = None


class CompetitorOut(Output):
    id: uuid.UUID
    name: str = Field(examples=["ShopFast"])
    website: str | None
    positioning: str | None
    strengths: list[str]
    weaknesses: list[str]
    estimated_share_pct: SharePctOut | None = Field(examples=["18.50"])
    created_at: datetime
    updated_at: datetime


class MarketAnalysisOut(Output):
    """Segments (highest priority first) and competitors (largest share first) on one page."""

    segments: list[SegmentOut] = Field(description="Up to 200, high priority first, then by name")
    competitors: list[CompetitorOut] = Field(description="Up to 200, largest estimated share first, then by name")
    segment_count: int = Field(description="All segments, also those beyond the first 200")
    competitor_count: int
    total_estimated_share_pct: SharePctOut = Field(
        description="Sum of the competitors' estimated shares (those without an estimate count as 0)",
        examples=["63.50"],
    )
    warnings: list[str] = Field(
        examples=[["Competitors' estimated shares add up to 112.50%, more than 100%."]],
        description="Inconsistencies worth fixing, e.g. shares adding up to more than 100%",
    )
