"""Request and response bodies of members (the people of the department)."""

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from services.api.schemas import OMITTED, Input, Name, Output, UpdateInput
from shared.department.models import Member

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

    name: Name = OMITTED
    email: Email = OMITTED
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
