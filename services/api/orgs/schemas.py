"""Request and response bodies of organisations and API keys."""

from datetime import datetime

from pydantic import Field

from services.api.schemas import Currency, Id, Input, Output, Timestamp, TimeZone
from shared.orgs.models import Role


class OrgCreate(Input):
    name: str = Field(min_length=1, max_length=200, examples=["Acme Retail"])
    time_zone: TimeZone = Field(
        default="UTC",
        description="The organisation's days are local days here: timestamped points, today, periods",
    )
    reporting_currency: Currency = Field(default="USD", description="KPI values and reports in money are in it")


class OrgOut(Output):
    id: Id
    name: str
    time_zone: str = Field(examples=["Asia/Ho_Chi_Minh"])
    reporting_currency: str = Field(examples=["VND"])
    created_at: Timestamp


class ApiKeyCreate(Input):
    name: str = Field(min_length=1, max_length=200, examples=["ETL pipeline"])
    role: Role = Field(description="admin: everything; editor: write; viewer: read; ingest: push metrics only")


class ApiKeyOut(Output):
    id: Id
    name: str
    role: Role
    prefix: str = Field(description="The public part of the key, shown so a key can be recognised")
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown this once; only its hash is stored.")


class OrgCreated(Output):
    org: OrgOut
    api_key: ApiKeyCreated
