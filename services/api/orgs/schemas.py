"""Request and response bodies of organisations and API keys."""

import uuid
from datetime import datetime

from pydantic import Field

from services.api.schemas import Input, Output
from shared.orgs.models import Role


class OrgCreate(Input):
    name: str = Field(min_length=1, max_length=200, examples=["Acme Retail"])


class OrgOut(Output):
    id: uuid.UUID
    name: str
    created_at: datetime


class ApiKeyCreate(Input):
    name: str = Field(min_length=1, max_length=200, examples=["ETL pipeline"])
    role: Role = Field(description="admin: everything; editor: write; viewer: read; ingest: push metrics only")


class ApiKeyOut(Output):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str = Field(description="The public part of the key, shown so a key can be recognised")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown this once; only its hash is stored.")


class OrgCreated(Output):
    org: OrgOut
    api_key: ApiKeyCreated
