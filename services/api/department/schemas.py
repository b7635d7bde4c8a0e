"""Request and response bodies of the department and its overview (teams, positions, members: their own
folders)."""

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field
from pydantic.json_schema import JsonDict

from services.api.schemas import Input, Name, Output, Text
from shared.department.models import StructureType

# --- department ---------------------------------------------------------------------------------


class DepartmentPut(Input):
    """The whole department: fields left out are cleared (PUT replaces)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Marketing",
                    "structure_type": "channel",
                    "mission": "Grow qualified pipeline 30% a year at a falling cost per lead.",
                }
            ]
        }
    )

    name: Name = Field(examples=["Marketing"])
    structure_type: StructureType | None = Field(
        default=None, description="How teams are cut: by function, channel, product, geography, or a matrix"
    )
    mission: Text | None = None


_DEPARTMENT_EXAMPLE: JsonDict = {
    "configured": True,
    "id": "01935c1e-8f4a-7b2c-9d3e-4f5a6b7c8d9e",
    "name": "Marketing",
    "structure_type": "channel",
    "mission": "Grow qualified pipeline 30% a year at a falling cost per lead.",
    "created_at": "2026-11-28T09:00:00Z",
    "updated_at": "2026-11-28T09:00:00Z",
}
_NOT_CONFIGURED_EXAMPLE: JsonDict = {
    "configured": False,
    "id": None,
    "name": None,
    "structure_type": None,
    "mission": None,
    "created_at": None,
    "updated_at": None,
}


class DepartmentOut(Output):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_DEPARTMENT_EXAMPLE, _NOT_CONFIGURED_EXAMPLE]}
    )

    configured: bool = Field(description="false until the first PUT; then every other field is null")
    id: uuid.UUID | None = None
    name: str | None = None
    structure_type: StructureType | None = None
    mission: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


# --- overview -------------------------------------------------------------------------------------


class Headcount(Output):
    filled: int
    open: int
    total: int


class TeamNode(Output):
    id: uuid.UUID
    name: str
    description: str | None
    parent_id: uuid.UUID | None
    headcount: Headcount = Field(description="Positions of this team itself")
    headcount_with_subteams: Headcount = Field(description="Positions of this team and all teams below it")
    children: list["TeamNode"]


class OverviewTotals(Output):
    teams: int
    positions: int
    filled: int
    open: int
    members: int
    members_without_position: int


class DepartmentOverview(Output):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "department": _DEPARTMENT_EXAMPLE,
                    "totals": {
                        "teams": 2,
                        "positions": 3,
                        "filled": 2,
                        "open": 1,
                        "members": 3,
                        "members_without_position": 1,
                    },
                    "teams": [
                        {
                            "id": "01935c1e-0000-7000-8000-000000000001",
                            "name": "Growth",
                            "description": None,
                            "parent_id": None,
                            "headcount": {"filled": 1, "open": 0, "total": 1},
                            "headcount_with_subteams": {"filled": 2, "open": 1, "total": 3},
                            "children": [
                                {
                                    "id": "01935c1e-0000-7000-8000-000000000002",
                                    "name": "Paid social",
                                    "description": None,
                                    "parent_id": "01935c1e-0000-7000-8000-000000000001",
                                    "headcount": {"filled": 1, "open": 1, "total": 2},
                                    "headcount_with_subteams": {"filled": 1, "open": 1, "total": 2},
                                    "children": [],
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    department: DepartmentOut
    totals: OverviewTotals
    teams: list[TeamNode] = Field(description="Top-level teams, each with its subteams nested; siblings by name")
