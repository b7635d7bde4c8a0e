"""Request and response bodies of the metric catalogue."""

from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, field_validator

from services.api.schemas import OMITTED, Id, Input, Name, Output, Text, Timestamp, UpdateInput
from shared.metrics.aggregation import Aggregation
from shared.metrics.keys import CURRENCY_DIMENSION
from shared.metrics.models import MetricUnit

_T = "2026-11-28T09:30:00Z"
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_DIMENSIONS = 20

MetricKey = Annotated[
    str,
    StringConstraints(pattern=KEY_PATTERN),
    Field(
        examples=["demo_requests"],
        description="Lower-case letters, digits and `_`, starting with a letter, at most 64 characters; "
        "formulas and ingested points name the metric by it",
    ),
]


def _not_reserved(name: str) -> str:
    if name == CURRENCY_DIMENSION:
        raise ValueError("`currency` is reserved: a money point's currency is its own field, not a dimension")
    return name


DimensionKey = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$"),
    AfterValidator(_not_reserved),
    Field(
        examples=["channel"],
        description="A dimension name such as `channel`, `campaign`, `segment` (`currency` is reserved)",
    ),
]
Dimensions = Annotated[
    list[DimensionKey],
    Field(
        max_length=MAX_DIMENSIONS,
        examples=[["channel", "campaign"]],
        description="The dimensions points of this metric may carry (and KPIs may filter on); no duplicates",
    ),
]


def no_duplicates(values: list[str], what: str) -> list[str]:
    """The values, or a ValueError (a 422 inside a validator) naming the first one listed twice."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} is listed twice")
        seen.add(value)
    return values


class MetricCreate(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "demo_requests",
                    "name": "Demo requests",
                    "description": "Demo requests booked through the website form",
                    "unit": "count",
                    "aggregation": "sum",
                    "allowed_dimensions": ["channel", "campaign"],
                }
            ]
        }
    )

    key: MetricKey
    name: Name
    description: Text | None = None
    unit: MetricUnit = Field(description="currency, count, ratio, percent or score")
    aggregation: Aggregation = Field(
        default=Aggregation.sum, description="How a window's points combine: sum (default), avg, min, max or last"
    )
    allowed_dimensions: Dimensions = Field(default_factory=lambda: ["channel", "campaign"])

    _unique_dimensions = field_validator("allowed_dimensions")(lambda v: no_duplicates(v, "dimension"))


class MetricUpdate(UpdateInput):
    """Only the fields sent change. `unit` and `aggregation` only while no KPI reads the metric."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Demo requests (web)", "allowed_dimensions": ["channel"]}]}
    )

    name: Name = OMITTED
    description: Text | None = None
    unit: MetricUnit = OMITTED
    aggregation: Aggregation = OMITTED
    allowed_dimensions: Dimensions = OMITTED

    _unique_dimensions = field_validator("allowed_dimensions")(lambda v: no_duplicates(v, "dimension"))


class MetricOut(Output):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a22057-e538-71c3-bf3b-0dc78b9d9dea",
                    "key": "spend",
                    "name": "Spend",
                    "description": "Money spent on media and tools",
                    "unit": "currency",
                    "aggregation": "sum",
                    "allowed_dimensions": ["channel", "campaign"],
                    "standard": True,
                    "kpi_count": 3,
                    "created_at": _T,
                    "updated_at": _T,
                }
            ]
        }
    )

    id: Id
    key: str = Field(examples=["spend"])
    name: str = Field(examples=["Spend"])
    description: str | None
    unit: MetricUnit
    aggregation: Aggregation
    allowed_dimensions: list[str] = Field(examples=[["channel", "campaign"]])
    standard: bool = Field(description="Part of the standard catalogue every organisation starts with")
    kpi_count: int = Field(examples=[3], description="How many KPI formulas read this metric")
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, metric: Any, kpi_count: int) -> "MetricOut":
        fields = {name: getattr(metric, name) for name in cls.model_fields if name != "kpi_count"}
        return cls(**fields, kpi_count=kpi_count)
