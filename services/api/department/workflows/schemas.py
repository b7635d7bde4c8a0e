"""Request and response bodies of workflows, their ordered steps and the tools they use."""

import uuid
from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, AliasChoices, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import JsonDict

from services.api.schemas import OMITTED, Input, Name, Output, Text, UpdateInput
from shared.department.models import ToolCategory

_T = "2026-11-28T09:00:00Z"
_WORKFLOW = "01935c1e-0000-7000-8000-000000000030"
_STEP_EXAMPLE: JsonDict = {
    "id": "01935c1e-0000-7000-8000-000000000031",
    "workflow_id": _WORKFLOW,
    "position": 1,
    "name": "Write the brief",
    "description": None,
    "owner_position_id": None,
    "owner_team_id": "01935c1e-0000-7000-8000-000000000002",
    "expected_duration_hours": 2,
    "sla_hours": 8,
    "created_at": _T,
    "updated_at": _T,
}
_WORKFLOW_EXAMPLE: JsonDict = {
    "id": _WORKFLOW,
    "name": "Campaign launch",
    "description": "From brief to live ads",
    "owner_team_id": "01935c1e-0000-7000-8000-000000000002",
    "tools": [{"name": "Asana", "category": "project_management", "purpose": "Briefs"}],
    "steps_count": 1,
    "created_at": _T,
    "updated_at": _T,
}

MAX_STEPS = 200
MAX_TOOLS = 50


def _two_decimals(hours: float) -> float:
    return round(hours, 2)


Hours = Annotated[
    float,
    Field(ge=0, le=100_000, allow_inf_nan=False, examples=[4]),
    AfterValidator(_two_decimals),
]
Purpose = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class ToolIn(Input):
    name: Name = Field(description="Unique within the workflow (case-insensitive)", examples=["Asana"])
    category: ToolCategory = Field(examples=["project_management"])
    purpose: Purpose | None = Field(default=None, examples=["Briefs and approvals"])


def _unique_tool_names(tools: list[ToolIn]) -> list[ToolIn]:
    seen: set[str] = set()
    for tool in tools:
        key = tool.name.casefold()
        if key in seen:
            raise ValueError(f"tool {tool.name!r} is listed twice")
        seen.add(key)
    return tools


Tools = Annotated[
    list[ToolIn],
    Field(
        max_length=MAX_TOOLS,
        description="The tools the process uses; sending the list replaces the whole set",
        examples=[
            [
                {"name": "Asana", "category": "project_management", "purpose": "Briefs and approvals"},
                {"name": "Meta Ads Manager", "category": "ad_platform", "purpose": "Launch and monitor ads"},
            ]
        ],
    ),
    AfterValidator(_unique_tool_names),
]


class ToolOut(Output):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [{"name": "GA4", "category": "analytics", "purpose": "Weekly reporting"}]},
    )

    name: str
    category: ToolCategory
    purpose: str | None


class ToolList(Output):
    items: list[ToolOut]


def _one_owner(position_id: uuid.UUID | None, team_id: uuid.UUID | None) -> None:
    if position_id is not None and team_id is not None:
        raise ValueError("a step is owned by a position or by a team, not both")


class StepFields(Input):
    name: Name = Field(examples=["Write the brief"])
    description: Text | None = None
    owner_position_id: uuid.UUID | None = Field(default=None, description="The position responsible for the step")
    owner_team_id: uuid.UUID | None = Field(
        default=None, description="Or the team responsible for it (not both; neither is allowed)"
    )
    expected_duration_hours: Hours | None = Field(default=None, description="Hours the step usually takes")
    sla_hours: Hours | None = Field(default=None, description="Hours the step may take at most")

    @model_validator(mode="after")
    def _owners(self) -> Self:
        _one_owner(self.owner_position_id, self.owner_team_id)
        return self


class StepCreate(StepFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Approve the creative",
                    "owner_position_id": "01935c1e-8f4a-7b2c-9d3e-4f5a6b7c8d9e",
                    "expected_duration_hours": 4,
                    "sla_hours": 24,
                    "position": 2,
                }
            ]
        }
    )

    position: int | None = Field(
        default=None, ge=1, description="Insert at this place (1 = first), shifting later steps; default: append"
    )


class StepUpdate(UpdateInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"sla_hours": 48, "position": 1}]})

    name: Name = OMITTED
    description: Text | None = None
    owner_position_id: uuid.UUID | None = None
    owner_team_id: uuid.UUID | None = None
    expected_duration_hours: Hours | None = None
    sla_hours: Hours | None = None
    position: int = Field(default=OMITTED, ge=1, description="Move the step to this place (1..number of steps)")

    @model_validator(mode="after")
    def _owners(self) -> Self:
        _one_owner(self.owner_position_id, self.owner_team_id)
        return self


class StepOrder(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "step_ids": [
                        "01935c1e-0000-7000-8000-000000000003",
                        "01935c1e-0000-7000-8000-000000000001",
                        "01935c1e-0000-7000-8000-000000000002",
                    ]
                }
            ]
        }
    )

    step_ids: list[uuid.UUID] = Field(
        max_length=MAX_STEPS, description="Every step of the workflow, once each, in the new order"
    )


class StepOut(Output):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_STEP_EXAMPLE]})

    id: uuid.UUID
    workflow_id: uuid.UUID
    position: int = Field(validation_alias=AliasChoices("position", "seq"), description="1..n, dense")
    name: str
    description: str | None
    owner_position_id: uuid.UUID | None
    owner_team_id: uuid.UUID | None
    expected_duration_hours: float | None
    sla_hours: float | None
    created_at: datetime
    updated_at: datetime


class StepList(Output):
    items: list[StepOut] = Field(description="All the workflow's steps, in order (never paged)")


class WorkflowCreate(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Campaign launch",
                    "description": "From brief to live ads",
                    "owner_team_id": "01935c1e-8f4a-7b2c-9d3e-4f5a6b7c8d9e",
                    "tools": [{"name": "Asana", "category": "project_management", "purpose": "Briefs"}],
                    "steps": [
                        {"name": "Write the brief", "expected_duration_hours": 2},
                        {"name": "Approve the creative", "sla_hours": 24},
                    ],
                }
            ]
        }
    )

    name: Name = Field(examples=["Campaign launch"])
    description: Text | None = None
    owner_team_id: uuid.UUID = Field(description="The team that owns the process")
    tools: Tools = Field(default_factory=list)
    steps: list[StepFields] = Field(
        default_factory=list, max_length=MAX_STEPS, description="Initial steps, in order (positions 1..n)"
    )


class WorkflowUpdate(UpdateInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Campaign launch (v2)", "tools": []}]})

    name: Name = OMITTED
    description: Text | None = None
    owner_team_id: uuid.UUID = OMITTED
    tools: Tools = OMITTED


class WorkflowToolsPut(Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"tools": [{"name": "GA4", "category": "analytics", "purpose": "Reporting"}]}]}
    )

    tools: Tools


class WorkflowSummary(Output):
    model_config = ConfigDict(json_schema_extra={"examples": [_WORKFLOW_EXAMPLE]})

    id: uuid.UUID
    name: str
    description: str | None
    owner_team_id: uuid.UUID
    tools: list[ToolOut]
    steps_count: int
    created_at: datetime
    updated_at: datetime


class WorkflowOut(WorkflowSummary):
    model_config = ConfigDict(json_schema_extra={"examples": [{**_WORKFLOW_EXAMPLE, "steps": [_STEP_EXAMPLE]}]})

    steps: list[StepOut] = Field(description="In order")
