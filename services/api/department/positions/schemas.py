"""Request and response bodies of positions (seats in a team, open or filled)."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, computed_field

from services.api.schemas import OMITTED, Day, Input, Name, Output, UpdateInput
from shared.department.models import PositionLevel

_T = "2026-11-28T09:00:00Z"

Responsibility = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Responsibilities = Annotated[
    list[Responsibility],
    Field(max_length=50, examples=[["Own the paid social budget", "Report ROAS weekly"]]),
]
PositionStatus = Literal["open", "filled"]


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

    title: Name = OMITTED
    team_id: uuid.UUID = OMITTED
    level: PositionLevel | None = None
    responsibilities: Responsibilities = OMITTED
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

    @computed_field(description="filled when a member holds the position, open otherwise")  # type: ignore[prop-decorator]
    @property
    def status(self) -> PositionStatus:
        return "filled" if self.holder is not None else "open"
