"""Request and response bodies of KPI definitions and KPI templates."""

import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import ConfigDict, Field, PlainSerializer, StringConstraints, field_validator
from pydantic.json_schema import JsonDict

from services.api.metrics.schemas import DimensionKey, no_duplicates
from services.api.schemas import OMITTED, Id, Input, Name, Output, Text, Timestamp, UpdateInput
from shared.kpis.evaluation import Direction, Pacing
from shared.kpis.models import Frequency, KpiCategory, KpiKind
from shared.metrics.models import MetricUnit
from shared.numbers import plain_number

_T = "2026-11-28T09:30:00Z"
MAX_FILTERS = 10
MAX_OBJECTIVES = 50

DimensionValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
DimensionFilter = Annotated[
    dict[DimensionKey, DimensionValue],
    Field(
        max_length=MAX_FILTERS,
        examples=[{"channel": "meta"}],
        description="Only points with these dimension values count: a goal on a segment. Every key must be an "
        "allowed dimension of every metric the formula reads; values are strings",
    ),
]
FormulaText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    Field(
        examples=["spend / clicks"],
        description="Arithmetic (`+ - * /`, brackets, numbers) over metric keys, e.g. `(revenue - spend) / spend`",
    ),
]
DisplayFormat = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^(currency|count|ratio|percent|score):[0-6]$"),
    Field(examples=["currency:2"], description="How to show the value: `<unit>:<decimal places 0-6>`"),
]
Weight = Annotated[
    Decimal,
    Field(
        gt=0,
        max_digits=10,
        decimal_places=4,
        examples=["1"],
        description="The KPI's weight in the objective's progress; > 0, at most 4 decimal places",
    ),
]
WeightOut = Annotated[Decimal, PlainSerializer(plain_number, return_type=str), Field(examples=["1"])]


# ---------------------------------------------------------------- KPIs


class ObjectiveLink(Input):
    objective_id: uuid.UUID = Field(examples=["01a22057-e538-71c3-bf3b-0dc78b9d9dea"])
    weight: Weight = Decimal(1)


ObjectiveLinks = Annotated[
    list[ObjectiveLink],
    Field(
        max_length=MAX_OBJECTIVES,
        description="The objectives this KPI measures, each at most once, with a weight (default 1)",
    ),
]


def _unique_objectives(links: list[ObjectiveLink] | None) -> list[ObjectiveLink] | None:
    if links is not None:
        no_duplicates([str(link.objective_id) for link in links], "objective")
    return links


_KPI_EXAMPLE: JsonDict = {
    "name": "CPC Meta",
    "description": "What a click from Meta ads costs",
    "category": "output",
    "kind": "quantitative",
    "formula": "spend / clicks",
    "unit": "currency",
    "display_format": "currency:2",
    "direction": "lower_is_better",
    "frequency": "weekly",
    "dimension_filter": {"channel": "meta"},
    "owner_team_id": "01a22057-e538-71c3-bf3b-0dc78b9d9dea",
    "objectives": [{"objective_id": "01a22057-f1c2-7d3e-8f40-5a6b7c8d9e0f", "weight": "1"}],
}


class KpiCreate(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [_KPI_EXAMPLE]})

    name: Name = Field(description="Unique in your organisation (ignoring case)")
    description: Text | None = None
    category: KpiCategory = Field(description="input (resources invested), output (results) or impact (business)")
    kind: KpiKind = Field(default=KpiKind.quantitative, description="quantitative (default) or qualitative")
    formula: FormulaText
    unit: MetricUnit = Field(description="The unit of the KPI's value: currency, count, ratio, percent or score")
    display_format: DisplayFormat | None = None
    direction: Direction = Field(description="higher_is_better, lower_is_better or target_range")
    frequency: Frequency = Field(default=Frequency.monthly, description="daily, weekly, monthly (default), quarterly")
    dimension_filter: DimensionFilter = Field(default_factory=dict)
    owner_team_id: uuid.UUID | None = Field(default=None, description="The team accountable for it")
    owner_member_id: uuid.UUID | None = Field(default=None, description="The person accountable for it")
    objectives: ObjectiveLinks = Field(default_factory=list)

    _unique = field_validator("objectives")(_unique_objectives)


class KpiUpdate(UpdateInput):
    """Only the fields sent change; `objectives`, when sent, replaces every link (`[]` removes them all)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"formula": "spend / clicks * 1000", "objectives": []}]})

    name: Name = OMITTED
    description: Text | None = None
    category: KpiCategory = OMITTED
    kind: KpiKind = OMITTED
    formula: FormulaText = OMITTED
    unit: MetricUnit = OMITTED
    display_format: DisplayFormat | None = None
    direction: Direction = OMITTED
    frequency: Frequency = OMITTED
    dimension_filter: DimensionFilter = OMITTED
    owner_team_id: uuid.UUID | None = None
    owner_member_id: uuid.UUID | None = None
    objectives: ObjectiveLinks = OMITTED

    _unique = field_validator("objectives")(_unique_objectives)


class KpiFromTemplate(Input):
    """The organisation's own choices; everything else comes from the template."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "CPC Meta",
                    "dimension_filter": {"channel": "meta"},
                    "frequency": "weekly",
                    "owner_team_id": "01a22057-e538-71c3-bf3b-0dc78b9d9dea",
                    "objectives": [{"objective_id": "01a22057-f1c2-7d3e-8f40-5a6b7c8d9e0f", "weight": "2"}],
                }
            ]
        }
    )

    name: Name | None = Field(default=None, description="Defaults to the template's name")
    description: Text | None = Field(default=None, description="Defaults to the template's explanation")
    kind: KpiKind | None = Field(default=None, description="Defaults to the template's kind")
    frequency: Frequency = Field(default=Frequency.monthly, description="daily, weekly, monthly (default), quarterly")
    dimension_filter: DimensionFilter = Field(default_factory=dict)
    owner_team_id: uuid.UUID | None = None
    owner_member_id: uuid.UUID | None = None
    objectives: ObjectiveLinks = Field(default_factory=list)

    _unique = field_validator("objectives")(_unique_objectives)


class ObjectiveLinkOut(Output):
    objective_id: Id
    weight: WeightOut


class KpiOut(Output):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a22057-e538-71c3-bf3b-0dc78b9d9dea",
                    **{k: v for k, v in _KPI_EXAMPLE.items() if k != "objectives"},
                    "owner_member_id": None,
                    "template_key": "cpc",
                    "metrics": ["clicks", "spend"],
                    "objectives": [{"objective_id": "01a22057-f1c2-7d3e-8f40-5a6b7c8d9e0f", "weight": "1"}],
                    "created_at": _T,
                    "updated_at": _T,
                }
            ]
        }
    )

    id: Id
    name: str = Field(examples=["CPC Meta"])
    description: str | None
    category: KpiCategory
    kind: KpiKind
    formula: str = Field(examples=["spend / clicks"])
    unit: MetricUnit
    display_format: str | None = Field(examples=["currency:2"])
    direction: Direction
    frequency: Frequency
    dimension_filter: dict[str, str] = Field(examples=[{"channel": "meta"}])
    owner_team_id: uuid.UUID | None
    owner_member_id: uuid.UUID | None
    template_key: str | None = Field(examples=["cpc"], description="The template it was created from, if any")
    metrics: list[str] = Field(examples=[["clicks", "spend"]], description="The metric keys the formula reads")
    objectives: list[ObjectiveLinkOut]
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, view: Any) -> "KpiOut":
        skip = ("metrics", "objectives")
        fields = {name: getattr(view.kpi, name) for name in cls.model_fields if name not in skip}
        links = [ObjectiveLinkOut(objective_id=oid, weight=weight) for oid, weight in view.objectives]
        return cls(**fields, metrics=view.metrics, objectives=links)


# ---------------------------------------------------------------- templates


class KpiTemplateOut(Output):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "cpc",
                    "name": "CPC",
                    "category": "output",
                    "kind": "quantitative",
                    "formula": "spend / clicks",
                    "unit": "currency",
                    "direction": "lower_is_better",
                    "suggested_pacing": "none",
                    "display_format": "currency:2",
                    "explanation": "Cost per click: what a visit from an ad costs.",
                    "metrics": ["clicks", "spend"],
                    "missing_metrics": [],
                }
            ]
        }
    )

    key: str = Field(examples=["cpc"])
    name: str = Field(examples=["CPC"])
    category: KpiCategory
    kind: KpiKind
    formula: str = Field(examples=["spend / clicks"])
    unit: MetricUnit
    direction: Direction
    suggested_pacing: Pacing = Field(
        description="linear for cumulative KPIs (expected value grows through the period), none for ratios"
    )
    display_format: str = Field(examples=["currency:2"])
    explanation: str = Field(examples=["Cost per click: what a visit from an ad costs."])
    metrics: list[str] = Field(examples=[["clicks", "spend"]], description="The metric keys the formula reads")
    missing_metrics: list[str] = Field(
        examples=[[]], description="Metrics the template reads that your organisation lacks: it cannot be used then"
    )

    @classmethod
    def of(cls, view: Any) -> "KpiTemplateOut":
        t = view.template
        return cls(
            key=t.key,
            name=t.name,
            category=t.category,
            kind=view.kind,
            formula=t.formula,
            unit=t.unit,
            direction=t.direction,
            suggested_pacing=t.pacing,
            display_format=t.display_format,
            explanation=t.explanation,
            metrics=view.metrics,
            missing_metrics=view.missing_metrics,
        )
