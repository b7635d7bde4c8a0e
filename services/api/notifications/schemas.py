"""Request and response bodies of notification channels, routing and silences."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field, StringConstraints, field_validator, model_validator

from services.api.schemas import OMITTED, Id, Input, Name, Output, Text, Timestamp, UpdateInput
from shared.kpis.models import KpiCategory
from shared.webhooks.channels.models import ChannelKind, DigestFrequency
from shared.webhooks.channels.routing import ROUTED_TYPES, Severity
from shared.webhooks.models import DeliveryStatus

MAX_AHEAD = timedelta(days=366)  # how far ahead a silence may start or end
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
RoutedType = Literal[
    "kpi.at_risk", "kpi.off_track", "kpi.recovered", "kpi.no_data", "budget.overspend", "ingest.batch_failed"
]
assert set(get_args(RoutedType)) == {t.value for t in ROUTED_TYPES}
SeverityName = Literal["critical", "warning", "info"]
assert set(Severity.ALL) == {"critical", "warning", "info"}
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$"), Field(examples=["09:00"])]


def _address(value: str) -> str:
    """Exactly one address, with or without a display name; no control character (a newline would be a header)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("an e-mail address cannot hold a line break or another control character")
    found = getaddresses([value])
    if len(found) != 1 or not re.fullmatch(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+", found[0][1]):
        raise ValueError("not one e-mail address (name@example.com, or Name <name@example.com>)")
    return value


Address = Annotated[str, StringConstraints(max_length=320), AfterValidator(_address)]


class EmailSettings(Input):
    """An SMTP server and who gets the mail. The password is sealed at rest and never returned."""

    host: str = Field(min_length=1, max_length=253, examples=["smtp.example.com"])
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (port 587), tls (implicit TLS, port 465), or none (a relay)"
    )
    username: str | None = Field(default=None, max_length=320)
    password: str | None = Field(default=None, max_length=1000, description="Write-only")
    sender: Address = Field(examples=["KPI alerts <kpi@example.com>"])
    recipients: list[Address] = Field(min_length=1, max_length=50, examples=[["marketing@example.com"]])

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> "EmailSettings":
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together (or neither, for a server without AUTH)")
        return self


class DigestSchedule(Input):
    """A summary per channel at a local time of the organisation's zone: daily, or weekly on a weekday."""

    frequency: DigestFrequency
    time: ClockTime = "09:00"
    weekday: Weekday | None = Field(default=None, description="For weekly digests; Monday when left out")


class ChannelCreate(Input):
    """Slack and Teams take their incoming-webhook `url`; e-mail takes `email`."""

    name: Name = Field(examples=["#marketing-alerts"])
    kind: ChannelKind
    url: str | None = Field(
        default=None,
        max_length=2000,
        description="Slack incoming webhook or Teams Workflows webhook URL (write-only: whoever has it can post)",
        examples=["https://hooks.slack.com/services/T000/B000/XXXX"],
    )
    email: EmailSettings | None = None
    digest: DigestSchedule | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _settings_of_its_kind(self) -> "ChannelCreate":
        if self.kind == ChannelKind.email and (self.email is None or self.url is not None):
            raise ValueError("an email channel takes `email` (SMTP settings and recipients), not `url`")
        if self.kind != ChannelKind.email and (self.url is None or self.email is not None):
            raise ValueError(f"a {self.kind.value} channel takes `url` (its incoming webhook), not `email`")
        return self


class ChannelUpdate(UpdateInput):
    name: Name = OMITTED
    url: str = Field(default=OMITTED, max_length=2000, description="Slack and Teams channels only")
    email: EmailSettings | None = Field(
        default=None, description="E-mail channels only; replaced whole (null is refused: an e-mail channel needs it)"
    )
    digest: DigestSchedule | None = Field(default=None, description="null: no digest")
    enabled: bool = OMITTED


class EmailOut(Output):
    host: str
    port: int
    security: str
    username: str | None
    has_password: bool
    sender: str
    recipients: list[str]


class ChannelOut(Output):
    id: Id
    name: str
    kind: ChannelKind
    target: str = Field(
        description="Where it posts, without the secret part of the URL",
        examples=["https://hooks.slack.com/…"],
    )
    email: EmailOut | None
    digest: DigestSchedule | None
    next_digest_at: Timestamp | None
    last_digest_at: Timestamp | None
    enabled: bool
    disabled_reason: str | None
    disabled_at: Timestamp | None
    failing_since: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class Match(Input):
    """What an event must be to match: each list left empty matches anything."""

    event_types: list[RoutedType] = Field(default_factory=list, examples=[["kpi.off_track"]])
    severities: list[SeverityName] = Field(
        default_factory=list,
        examples=[["critical"]],
        description="critical: kpi.off_track, budget.overspend; warning: kpi.at_risk, kpi.no_data, "
        "ingest.batch_failed; info: kpi.recovered",
    )
    categories: list[KpiCategory] = Field(default_factory=list, examples=[["impact"]])
    team_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200, description="The KPI owner's team")
    kpi_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)


class Rule(Input):
    name: Name = Field(examples=["Impact KPIs off track to leadership"])
    match: Match = Field(default_factory=Match)
    channel_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)


class QuietHours(Input):
    """Local wall-clock hours (the organisation's zone) when notifications that are not critical wait."""

    start: ClockTime = Field(examples=["22:00"])
    end: ClockTime = Field(examples=["07:00"])

    @model_validator(mode="after")
    def _not_empty(self) -> "QuietHours":
        if self.start == self.end:
            raise ValueError("start and end are the same time: quiet hours would be empty")
        return self


class RoutingSet(Input):
    """The whole routing, replaced at once (like an Alertmanager route tree)."""

    mode: Literal["first", "all"] = Field(
        default="first",
        description="first: the first matching rule's channels; all: the channels of every matching rule",
    )
    rules: list[Rule] = Field(default_factory=list, max_length=100)
    default_channel_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=50, description="Where an event no rule matches goes (empty: nowhere)"
    )
    quiet_hours: QuietHours | None = None


class RoutingOut(Output):
    mode: str
    rules: list[Rule]
    default_channel_ids: list[uuid.UUID]
    quiet_hours: QuietHours | None
    time_zone: str = Field(examples=["Asia/Ho_Chi_Minh"], description="The zone quiet hours are read in")
    updated_at: Timestamp | None


class SilenceCreate(Input):
    starts_at: datetime | None = Field(default=None, description="Now when left out")
    ends_at: datetime = Field(examples=["2026-11-30T02:00:00Z"])
    match: Match = Field(default_factory=Match)
    comment: Text = Field(min_length=1, examples=["Black Friday launch: spend spikes are expected"])

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _an_instant_within_a_year(cls, value: datetime | None) -> datetime | None:
        """With a UTC offset, and within a year from now (the service bounds the silence's length)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset (2026-11-30T02:00:00Z)")
        try:
            at = value.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("out of range") from exc
        if at > datetime.now(UTC) + MAX_AHEAD:
            raise ValueError("at most a year from now")
        return at


class SilenceOut(Output):
    id: Id
    starts_at: Timestamp
    ends_at: Timestamp
    match: Match
    comment: str
    created_by: str = Field(examples=["ops key"], description="The name of the API key that made it")
    state: Literal["pending", "active", "expired"]
    ended_early_at: Timestamp | None
    ended_by: str | None
    concluded_at: Timestamp | None = Field(description="When what was still open was notified after it ended")
    created_at: Timestamp


class NotificationAttempt(Output):
    number: int
    trigger: str
    attempted_at: Timestamp
    status_code: int | None = Field(description="HTTP status, or the SMTP reply code for e-mail")
    duration_ms: int
    outcome: str
    error: str | None
    response_excerpt: str | None


class NotificationDeliveryOut(Output):
    id: Id
    event_id: str
    event_type: str = Field(examples=["kpi.off_track"])
    status: DeliveryStatus = Field(
        description="pending | delivered | failed | gone | skipped | held (quiet hours; `next_attempt_at` is "
        "their end) | silenced (`silence_id`) | superseded (held, then replaced by a later one of the same KPI)"
    )
    silence_id: Id | None
    next_attempt_at: Timestamp | None
    delivered_at: Timestamp | None
    created_at: Timestamp
    attempts: list[NotificationAttempt]


class ChannelTestSent(Output):
    event_id: str
    event_type: str = Field(examples=["notification.test"])
    channel_id: Id
    deliveries_url: str = Field(examples=["/v1/notification-channels/01a2…/deliveries"])
