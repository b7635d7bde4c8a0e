"""Request and response bodies of organisations and API keys."""

from datetime import datetime

from pydantic import ConfigDict, Field

from services.api.schemas import OMITTED, Currency, Id, Input, Name, Output, Timestamp, TimeZone, UpdateInput
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


class OrgUpdate(UpdateInput):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"time_zone": "America/New_York"}, {"reporting_currency": "VND"}]}
    )

    name: Name = OMITTED
    time_zone: TimeZone = Field(
        default=OMITTED, description="From now on the organisation's days, today and periods are local days here"
    )
    reporting_currency: Currency = Field(
        default=OMITTED, description="From now on KPI values and reports in money are converted into it"
    )


class SettingChange(Output):
    setting: str = Field(examples=["time_zone"], description="`time_zone` or `reporting_currency`")
    old_value: str = Field(examples=["UTC"])
    new_value: str = Field(examples=["Asia/Ho_Chi_Minh"])
    effects: str = Field(
        description="What the change affects, in words",
        examples=["Points with a timestamp pushed from now on are bucketed into local days in Asia/Ho_Chi_Minh; …"],
    )


class SettingChangeOut(SettingChange):
    id: Id
    by_key_id: Id | None = Field(description="The API key that made the change (null once that key is deleted)")
    created_at: Timestamp


class OrgUpdated(OrgOut):
    changes: list[SettingChange] = Field(
        description="The settings this request changed (none for a name alone or for the values already set)"
    )


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
