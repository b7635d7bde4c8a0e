"""Webhook endpoints, the events sent to them, deliveries with every attempt, and operator events."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, IdMixin, TimestampMixin, UpdatedMixin, UTCDateTime, str_enum
from shared.db.scoping import OrgScoped
from shared.webhooks.sealing import SealedSecret


class EventType(enum.StrEnum):
    kpi_at_risk = "kpi.at_risk"
    kpi_off_track = "kpi.off_track"
    kpi_recovered = "kpi.recovered"
    kpi_no_data = "kpi.no_data"
    budget_overspend = "budget.overspend"
    ingest_batch_failed = "ingest.batch_failed"
    webhook_test = "webhook.test"  # sent on request to one endpoint (POST /v1/webhook-endpoints/{id}/test)
    # Notification channels only (never sent to webhook endpoints): a channel's test, its scheduled digest.
    notification_test = "notification.test"
    notification_digest = "notification.digest"


# What webhook endpoints may subscribe to and receive: every type but the channel-only ones.
WEBHOOK_EVENT_TYPES = tuple(t for t in EventType if not t.value.startswith("notification."))


class DeliveryStatus(enum.StrEnum):
    pending = "pending"  # waiting for its next attempt
    delivered = "delivered"
    failed = "failed"  # the schedule is exhausted
    gone = "gone"  # the receiver answered 410; the endpoint was disabled
    skipped = "skipped"  # the endpoint was disabled before this delivery went out
    # Notification channels only:
    held = "held"  # waiting for the organisation's quiet hours to end (`next_attempt_at`: their end)
    silenced = "silenced"  # muted by a silence (`silence_id`): never sent
    superseded = "superseded"  # held, then replaced by a later notification of the same subject before release


class WebhookEndpoint(IdMixin, TimestampMixin, UpdatedMixin, OrgScoped, Base):
    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every type
    kpi_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every KPI
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every category
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Needed in clear to sign, so sealed (not hashed) at rest; never returned after creation or rotation.
    secret: Mapped[str] = mapped_column(SealedSecret())
    previous_secret: Mapped[str | None] = mapped_column(SealedSecret())
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookEvent(TimestampMixin, OrgScoped, Base):
    """An event as sent: its id is the `webhook-id`, the same on every attempt and replay."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[EventType] = mapped_column(str_enum(EventType, "webhook_event_type"))
    payload: Mapped[dict] = mapped_column(JSON)
    # When the event happened (Unix s). Not the signed `webhook-timestamp`: each attempt signs its own send time.
    timestamp: Mapped[int] = mapped_column(Integer)
    # What the event is about, e.g. `target:<id>`: held notifications of one subject collapse to the latest, and a
    # silence's end re-notifies a subject whose alert is still open.
    subject: Mapped[str | None] = mapped_column(String(80))
    # Facts for notification channels that the versioned webhook payload does not carry (the KPI's owner, a note).
    extra: Mapped[dict | None] = mapped_column(JSON)


class WebhookDelivery(IdMixin, TimestampMixin, OrgScoped, Base):
    """An event's delivery to one webhook endpoint or one notification channel (exactly one of the two)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        CheckConstraint("(endpoint_id IS NULL) <> (channel_id IS NULL)", name="one_destination"),
    )

    endpoint_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True
    )
    silence_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notification_silences.id", ondelete="SET NULL"), index=True
    )
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookAttempt(IdMixin, OrgScoped, Base):
    """One HTTP attempt of a delivery: the delivery log."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))  # scheduled | manual
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | retry | failed (the last) | gone | refused
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)


class OperatorEvent(IdMixin, TimestampMixin, OrgScoped, Base):
    """Something an operator should know, e.g. an endpoint disabled after failing for days."""

    __tablename__ = "operator_events"

    kind: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON)
    endpoint_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="SET NULL"))
    channel_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("notification_channels.id", ondelete="SET NULL"))
