"""Request and response bodies of the department, teams, positions, members and the overview."""

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, computed_field

from services.api.schemas import Day, Input, Name, Output, Text, UpdateInput
from shared.department.models import Member, PositionLevel, StructureType

_T = "2026-11-28T09:00:00Z"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 320 or not _EMAIL.match(value):
        raise ValueError("not an email address (expected name@domain.tld)")
    return value


Email = Annotated[
    str,
    AfterValidator(_email),
    Field(description="Stored lower-case; unique within the organisation", examples=["jane.doe@acme.example"]),
]
Responsibility = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Responsibilities = Annotated[
    list[Responsibility],
    Field(max_length=50, examples=[["Own the paid social budget", "Report ROAS weekly"]]),
]
PositionStatus = Literal["open", "filled"]


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


class DepartmentOut(Output):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "configured": True,
                    "id": "01935c1e-8f4a-7b2c-9d3e-4f5a6b7c8d9e",
                    "name": "Marketing",
                    "structure_type": "channel",
                    "mission": "Grow qualified pipeline 30% a year at a falling cost per lead.",
                    "created_at": "2026-11-28T09:00:00Z",
                    "updated_at": "2026-11-28T09:00:00Z",
                },
                {
                    "configured": False,
                    "id": None,
                    "name": None,
                    "structure_type": None,
                    "mission": None,
                    "created_at": None,
                    "updated_at": None,
                },
            ]
        },
    )

    configured: bool = Field(description="false until the first PUT; then every other field is null")
    id: uuid.UUID | None = None
    name: str | None = None
    structure_type: StructureType | None = None
    mission: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


# --- teams ----------------------------------------------------------------------------------------


class TeamCreate(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Paid social", "description": "Meta, TikTok and LinkedIn ads", "parent_id": None}]
        }
    )

    name: Name = Field(description="Unique among its siblings (case-insensitive)", examples=["Paid social"])
    description: Text | None = None
    parent_id: uuid.UUID | None = Field(default=None, description="The parent team; null for a top-level team")


class TeamUpdate(UpdateInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"parent_id": "01935c1e-8f4a-7b2c-9d3e-4f5a6b7c8d9e"}]})

    name: Name = None
    description: Text | None = None
    parent_id: uuid.UUID | None = Field(
        default=None, description="Move the team (with its subteams); null makes it top-level"
    )


class TeamOut(Output):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01935c1e-0000-7000-8000-000000000002",
                    "name": "Paid social",
                    "description": "Meta, TikTok and LinkedIn ads",
                    "parent_id": "01935c1e-0000-7000-8000-000000000001",
                    "created_at": _T,
                    "updated_at": _T,
                }
            ]
        },
    )

    id: uuid.UUID
    name: str
    description: str | None
    parent_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


# --- positions ------------------------------------------------------------------------------------


class PositionCreate(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Paid social manager",
                    "team_id": "01935c1e-8f4a-7b2c-9d3e-4f5a6b7c8d9e",
                    "level": "senior",
                    "responsibilities": ["Own the paid social budget", "Report ROAS weekly"],
                    "target_hire_date": "2027-02-01",
                }
            ]
        }
    )

    title: Name = Field(examples=["Paid social manager"])
    team_id: uuid.UUID
    level: PositionLevel | None = None
    responsibilities: Responsibilities = Field(default_factory=list)
    target_hire_date: Day | None = Field(default=None, description="When the seat should be filled, if open")


class PositionUpdate(UpdateInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"level": "lead", "target_hire_date": None}]})

    title: Name = None
    team_id: uuid.UUID = None
    level: PositionLevel | None = None
    responsibilities: Responsibilities = None
    target_hire_date: Day | None = None


class Holder(Output):
    id: uuid.UUID
    name: str


class PositionOut(Output):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01935c1e-0000-7000-8000-000000000010",
                    "title": "Paid social manager",
                    "team_id": "01935c1e-0000-7000-8000-000000000002",
                    "level": "senior",
                    "responsibilities": ["Own the paid social budget", "Report ROAS weekly"],
                    "target_hire_date": None,
                    "holder": {"id": "01935c1e-0000-7000-8000-000000000020", "name": "Jane Doe"},
                    "status": "filled",
                    "created_at": _T,
                    "updated_at": _T,
                }
            ]
        },
    )

    id: uuid.UUID
    title: str
    team_id: uuid.UUID
    level: PositionLevel | None
    responsibilities: list[str]
    target_hire_date: date | None
    holder: Holder | None = Field(description="The member holding the position; null when open")
    created_at: datetime
    updated_at: datetime

    @computed_field(description="filled when a member holds the position, open otherwise")
    @property
    def status(self) -> PositionStatus:
        return "filled" if self.holder is not None else "open"


# --- members --------------------------------------------------------------------------------------


class MemberCreate(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Jane Doe",
                    "email": "jane.doe@acme.example",
                    "position_id": "01935c1e-8f4a-7b2c-9d3e-4f5a6b7c8d9e",
                }
            ]
        }
    )

    name: Name = Field(examples=["Jane Doe"])
    email: Email
    position_id: uuid.UUID | None = Field(
        default=None, description="The position the member holds; one member per position"
    )


class MemberUpdate(UpdateInput):
    model_config = ConfigDict(json_schema_extra={"examples": [{"position_id": None}]})

    name: Name = None
    email: Email = None
    position_id: uuid.UUID | None = Field(default=None, description="null leaves the member without a position")


class MemberOut(Output):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01935c1e-0000-7000-8000-000000000020",
                    "name": "Jane Doe",
                    "email": "jane.doe@acme.example",
                    "position_id": "01935c1e-0000-7000-8000-000000000010",
                    "team_id": "01935c1e-0000-7000-8000-000000000002",
                    "created_at": _T,
                    "updated_at": _T,
                }
            ]
        },
    )

    id: uuid.UUID
    name: str
    email: str
    position_id: uuid.UUID | None
    team_id: uuid.UUID | None = Field(description="The team of the member's position; null without a position")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, member: Member) -> "MemberOut":
        """From a member loaded with its position."""
        team_id = member.position.team_id if member.position is not None else None
        return cls(
            id=member.id,
            name=member.name,
            email=member.email,
            position_id=member.position_id,
            team_id=team_id,
            created_at=member.created_at,
            updated_at=member.updated_at,
        )


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
                    "department": DepartmentOut.model_config["json_schema_extra"]["examples"][0],
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
