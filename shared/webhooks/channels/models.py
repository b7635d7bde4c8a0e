"""Notification channels, the organisation's routing, and silences.

A channel is a place people read (a Slack or Teams channel through its incoming webhook, or e-mail inboxes over
SMTP). Events reach channels through the organisation's routing; they are delivered by the webhook delivery
machinery (one `webhook_deliveries` row per event and channel: retries, the attempt log, replay, auto-disable).
"""

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, IdMixin, TimestampMixin, UpdatedMixin, UTCDateTime, str_enum
from shared.db.scoping import OrgScoped
from shared.webhooks.sealing import SealedSecret


class ChannelKind(enum.StrEnum):
    slack = "slack"  # a Slack incoming webhook: Block Kit messages
    teams = "teams"  # a Microsoft Teams Workflows incoming webhook: Adaptive Cards
    email = "email"  # e-mail over SMTP: HTML and plain text


class DigestFrequency(enum.StrEnum):
    daily = "daily"
    weekly = "weekly"


class SealedText(SealedSecret):
    """A sealed secret too long for 200 characters: a Teams Workflows URL carries its signature in the query."""

    impl = Text  # type: ignore[assignment]  # a longer column of the same kind
    cache_ok = True


class NotificationChannel(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    __tablename__ = "notification_channels"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind, "channel_kind"))
    # What is not secret: e-mail's {host, port, security, username, sender, recipients}; {} for Slack and Teams.
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    # The credential, sealed at rest like webhook signing secrets: the incoming-webhook URL (whoever has it can
    # post) for Slack and Teams, the SMTP password for e-mail (None without AUTH). Never returned.
    secret: Mapped[str | None] = mapped_column(SealedText())
    digest_frequency: Mapped[DigestFrequency | None] = mapped_column(str_enum(DigestFrequency, "digest_frequency"))
    digest_time: Mapped[str | None] = mapped_column(String(5))  # "09:00", local time in the organisation's zone
    digest_weekday: Mapped[int | None] = mapped_column(Integer)  # 0 = Monday, for weekly digests
    next_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationRouting(OrgScoped, Base):
    """The organisation's routing, one document: rules in order, the default route, quiet hours.

    `rules`: [{name, match: {event_types, severities, categories, team_ids, kpi_ids}, channel_ids}]; `mode`
    "first" sends an event to the first matching rule's channels, "all" to every matching rule's; an event no rule
    matches goes to `default_channel_ids`. `quiet_hours`: {start: "22:00", end: "07:00"} in the org's zone, or None.
    """

    __tablename__ = "notification_routing"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8), default="first")
    rules: Mapped[list[dict]] = mapped_column(JSON, default=list)
    default_channel_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    quiet_hours: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))


class Silence(IdMixin, TimestampMixin, OrgScoped, Base):
    """Mutes the notifications (never the alerts) that match, from `starts_at` until `ends_at`."""

    __tablename__ = "notification_silences"

    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # {event_types, severities, categories, team_ids, kpi_ids}: each list empty matches anything.
    matchers: Mapped[dict] = mapped_column(JSON, default=dict)
    comment: Mapped[str] = mapped_column(Text)  # why
    created_by: Mapped[str] = mapped_column(String(200))  # the API key's name, as it was
    created_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    ended_early_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(200))
    # When what is still open was notified after it ended (the `notifications.sweep` cron, or its DELETE).
    concluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
