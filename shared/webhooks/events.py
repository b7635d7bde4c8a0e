"""Emitting events: one event (one `webhook-id`), one delivery per matching webhook endpoint and per notification
channel the organisation's routing picks (`shared.webhooks.channels.routing`), each delivery its own job."""

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.jobs.handles import DELIVER_WEBHOOK
from shared.jobs.queue import inline_jobs
from shared.webhooks.channels.routing import Disposition, Facts, OrgRoutes, load_routes
from shared.webhooks.models import (
    WEBHOOK_EVENT_TYPES,
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from shared.webhooks.signing import new_message_id

# A delivery job's timeout, and so its claim's lease (shared/webhooks/delivery.py). Here because `emit` needs it too,
# and delivery.py imports this module.
DELIVER_TIMEOUT_S = 60
# The first attempts a job makes itself right after its commit (`job_session(ctx, run_inline=True)`), concurrently:
# an evaluation that opens a few alerts, each to a few endpoints. Past this many, the deliveries go to their own jobs
# as before, so a large run does not hold its worker slot on many receivers (each send may take webhook_timeout_s).
INLINE_DELIVERIES = 8
# The version of every payload's shape (docs/domains/webhook-delivery.md, the OpenAPI document's `webhooks`, whose
# schemas list every field exactly): any change of fields, an added one too, makes the next version.
PAYLOAD_VERSION = 1


def delivery_job_id(delivery_id: uuid.UUID, attempt: int, suffix: str = "") -> str:
    return f"wh:{delivery_id}:{attempt}{suffix}"


def event_body(event: WebhookEvent) -> bytes:
    """The exact bytes that are signed and sent, the same on every attempt."""
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()


def _wants(endpoint: WebhookEndpoint, type_: EventType, kpi_id: uuid.UUID | None, category: str | None) -> bool:
    """The endpoint subscribes to this type and, for a `kpi.*` event, to this KPI and its category.

    The KPI and category filters narrow KPI events only: budget and ingest events concern no KPI, and an
    endpoint watching a few KPIs that also subscribed to `budget.overspend` still wants every overspend."""
    if endpoint.event_types and type_.value not in endpoint.event_types:
        return False
    if not type_.value.startswith("kpi."):
        return True
    return (not endpoint.kpi_ids or (kpi_id is not None and str(kpi_id) in endpoint.kpi_ids)) and (
        not endpoint.categories or (category is not None and category in endpoint.categories)
    )


class Subscribers:
    """Organisations' enabled endpoints and notification routes, each organisation's loaded once: a run that emits
    many events (an evaluation of many KPIs) reads them once, not once per event."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._of: dict[uuid.UUID, Sequence[WebhookEndpoint]] = {}
        self._routes: dict[uuid.UUID, OrgRoutes] = {}

    async def has_channels(self, org_id: uuid.UUID) -> bool:
        """The organisation routes to at least one enabled channel (what only channels show need not be read)."""
        return bool((await self.routes(org_id, datetime.now(UTC))).channels)

    async def routes(self, org_id: uuid.UUID, now: datetime) -> OrgRoutes:
        if org_id not in self._routes:
            self._routes[org_id] = await load_routes(self._session, org_id, now)
        return self._routes[org_id]

    async def of(self, org_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
        if org_id not in self._of:
            self._of[org_id] = (
                await self._session.scalars(
                    select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id, WebhookEndpoint.enabled.is_(True))
                )
            ).all()
        return self._of[org_id]


async def emit(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    type_: EventType,
    data: dict[str, Any],
    kpi_id: uuid.UUID | None = None,
    category: str | None = None,
    team_id: uuid.UUID | None = None,
    subject: str | None = None,
    extra: dict[str, Any] | None = None,
    subscribers: Subscribers | None = None,
) -> WebhookEvent | None:
    """Record the event, a delivery per subscribed endpoint and one per routed channel; the deliveries due now run
    after the commit (the first INLINE_DELIVERIES of a transaction by the job that commits it, when it runs jobs
    inline). A run that emits many events passes one `Subscribers` to all of them. `subject` (`target:<id>`) and
    `extra` (facts only channels show) are for notifications; `team_id` is the KPI owner's (or budget line's)."""
    subscribers = subscribers or Subscribers(session)
    endpoints = await subscribers.of(org_id)
    matching = [e for e in endpoints if _wants(e, type_, kpi_id, category)]
    now = datetime.now(UTC)
    routes = await subscribers.routes(org_id, now)
    facts = Facts(type_, category, team_id, kpi_id)
    channels = routes.route(facts, now)
    if not matching and not channels:
        return None
    if channels:
        extra = {**(extra or {}), "facts": facts.to_extra(), "org_name": routes.org_name}
    return await emit_to(
        session,
        org_id=org_id,
        type_=type_,
        data=data,
        endpoints=matching,
        channels=channels,
        subject=subject,
        extra=extra,
    )


async def emit_to(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    type_: EventType,
    data: dict[str, Any],
    endpoints: Sequence[WebhookEndpoint],
    channels: Sequence[Disposition] = (),
    subject: str | None = None,
    extra: dict[str, Any] | None = None,
) -> WebhookEvent:
    """Record the event and a delivery to each of these endpoints (whatever they subscribe to) and channels (as
    disposed: due now, held or silenced), run as `emit`'s."""
    if endpoints and type_ not in WEBHOOK_EVENT_TYPES:
        raise ValueError(f"{type_.value} is for notification channels only")
    now = datetime.now(UTC)
    event = WebhookEvent(
        id=new_message_id(),
        org_id=org_id,
        type=type_,
        timestamp=int(now.timestamp()),
        subject=subject,
        extra=extra,
        payload={
            "type": type_.value,
            "version": PAYLOAD_VERSION,
            "timestamp": now.isoformat(timespec="seconds"),
            "data": data,
        },
    )
    session.add(event)
    await session.flush()  # the event row first: deliveries reference it (no ORM relationship orders them)
    deliveries = [
        WebhookDelivery(org_id=org_id, endpoint_id=e.id, event_id=event.id, next_attempt_at=now) for e in endpoints
    ]
    deliveries += [
        WebhookDelivery(
            org_id=org_id,
            channel_id=d.channel.id,
            event_id=event.id,
            status=d.status,
            next_attempt_at=d.due,
            silence_id=d.silence_id,
        )
        for d in channels
    ]
    session.add_all(deliveries)
    await session.flush()
    send_now(session, [d.id for d in deliveries if d.status == DeliveryStatus.pending])
    return event


def send_now(session: AsyncSession, delivery_ids: Sequence[uuid.UUID]) -> None:
    """Ask for each delivery's first attempt after the commit: inline by the committing job for the first few."""
    inline = inline_jobs(session, DELIVER_WEBHOOK.name)
    for delivery_uuid in delivery_ids:
        job_id, delivery_id = delivery_job_id(delivery_uuid, 1), str(delivery_uuid)
        if inline is not None and inline < INLINE_DELIVERIES:
            # The job that commits this makes attempt 1 itself, at once; the same job, enqueued a claim's lease later,
            # makes it only if that never happened (the worker died in between): it finds the attempt taken and
            # steps aside otherwise.
            DELIVER_WEBHOOK.defer_inline(
                session, job_id=job_id, fallback_s=DELIVER_TIMEOUT_S, delivery_id=delivery_id, attempt=1
            )
            inline += 1
        else:
            DELIVER_WEBHOOK.defer(session, job_id=job_id, delivery_id=delivery_id, attempt=1)
