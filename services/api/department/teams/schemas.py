"""Request and response bodies of teams (a tree)."""

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field

from services.api.schemas import OMITTED, Input, Name, Output, Text, UpdateInput

_T = "2026-11-28T09:00:00Z"


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

    name: Name = OMITTED
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
