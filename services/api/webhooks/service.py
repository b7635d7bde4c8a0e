"""Webhook endpoints: create (secret shown once), change, rotate the secret, replay deliveries."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import apply_changes, get_or_404, require_refs
from services.api.pagination import PageParams, encode_cursor, fetch_page
from services.api.problems import Conflict, NotFound, Unprocessable
from services.api.webhooks.schemas import EndpointCreate, EndpointUpdate
from shared.jobs.handles import DELIVER_WEBHOOK
from shared.kpis.models import Kpi
from shared.settings import Settings
from shared.webhooks.channels.models import NotificationChannel
from shared.webhooks.delivery import Destination, destination
from shared.webhooks.events import delivery_job_id, emit_to
from shared.webhooks.models import (
    DeliveryStatus,
    EventType,
    OperatorEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from shared.webhooks.signing import generate_secret
from shared.webhooks.ssrf import UnsafeUrl, check_url


async def safe_url(url: str, settings: Settings, *, location: str = "body.url") -> None:
    """422 when the URL is, or resolves to, an address the SSRF guard refuses (webhooks, Slack, Teams, SMTP)."""
    try:
        await check_url(url, settings.webhook_allowed_cidrs)
    except UnsafeUrl as exc:
        raise Unprocessable(
            f"{location}: {exc}", errors=[{"location": location, "message": str(exc), "type": "unsafe_url"}]
        ) from exc


async def _own_kpis(session: AsyncSession, kpi_ids: list[uuid.UUID]) -> None:
    """Refuse (422, one error per id) a KPI filter naming no KPI of this organisation: an id nobody has and another
    organisation's are answered alike."""
    await require_refs(session, {f"kpi_ids.{i}": (Kpi, kpi_id) for i, kpi_id in enumerate(kpi_ids)})


def _plain(values) -> list[str]:
    return [getattr(v, "value", str(v)) for v in values]


async def create_endpoint(session: AsyncSession, *, body: EndpointCreate, settings: Settings) -> WebhookEndpoint:
    """A new endpoint with a fresh `whsec_` secret; its URL must not point inside (SSRF guard)."""
    await safe_url(body.url, settings)
    await _own_kpis(session, body.kpi_ids)
    endpoint = WebhookEndpoint(
        url=body.url,
        description=body.description,
        event_types=_plain(body.event_types),
        kpi_ids=_plain(body.kpi_ids),
        categories=_plain(body.categories),
        enabled=body.enabled,
        secret=generate_secret(),
    )
    session.add(endpoint)
    await session.flush()
    return endpoint


async def list_endpoints(session: AsyncSession, *, page: PageParams, enabled: bool | None):
    stmt = select(WebhookEndpoint)
    if enabled is not None:
        stmt = stmt.where(WebhookEndpoint.enabled.is_(enabled))
    return await fetch_page(session, stmt, WebhookEndpoint.id, page)


async def get_endpoint(session: AsyncSession, *, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    """One endpoint of the caller's organisation (404 otherwise)."""
    return await get_or_404(session, WebhookEndpoint, endpoint_id)


async def update_endpoint(
    session: AsyncSession, *, endpoint_id: uuid.UUID, body: EndpointUpdate, settings: Settings
) -> WebhookEndpoint:
    """Change an endpoint; enabling it again clears why it was disabled."""
    endpoint = await get_or_404(session, WebhookEndpoint, endpoint_id)
    changes = body.changes()
    if "url" in changes:
        await safe_url(changes["url"], settings)
    if "kpi_ids" in changes:
        await _own_kpis(session, body.kpi_ids or [])
    for field in ("event_types", "kpi_ids", "categories"):
        if field in changes:
            changes[field] = _plain(changes[field])
    if changes.get("enabled") and not endpoint.enabled:
        endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = None, None, None
    apply_changes(endpoint, changes)
    await session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, *, endpoint_id: uuid.UUID) -> None:
    """Delete an endpoint; its deliveries and their log go with it."""
    await session.delete(await get_or_404(session, WebhookEndpoint, endpoint_id))


async def rotate_secret(session: AsyncSession, *, endpoint_id: uuid.UUID, settings: Settings) -> WebhookEndpoint:
    """A new secret; the old one keeps signing (both signatures are sent) for the overlap period."""
    endpoint = await get_or_404(session, WebhookEndpoint, endpoint_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = datetime.now(UTC) + timedelta(hours=settings.webhook_secret_overlap_hours)
    endpoint.secret = generate_secret()
    await session.flush()
    return endpoint


async def list_attempts(session: AsyncSession, *, endpoint_id: uuid.UUID, page: PageParams, event_type: str | None):
    """The endpoint's delivery log: every attempt, oldest first, with its delivery and event (one query)."""
    await get_or_404(session, WebhookEndpoint, endpoint_id)
    stmt = (
        select(WebhookAttempt, WebhookDelivery.status, WebhookEvent.id, WebhookEvent.type)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookAttempt.endpoint_id == endpoint_id)
    )
    if event_type is not None:
        stmt = stmt.where(WebhookEvent.type == event_type)
    if page.after is not None:
        stmt = stmt.where(WebhookAttempt.id > page.after)
    rows = (await session.execute(stmt.order_by(WebhookAttempt.id).limit(page.limit + 1))).all()
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        return rows, encode_cursor(rows[-1][0].id)
    return rows, None


async def list_operator_events(
    session: AsyncSession,
    *,
    page: PageParams,
    kind: str | None,
    endpoint_id: uuid.UUID | None,
    channel_id: uuid.UUID | None = None,
):
    """The organisation's operator events, oldest first."""
    stmt = select(OperatorEvent)
    if kind is not None:
        stmt = stmt.where(OperatorEvent.kind == kind)
    if endpoint_id is not None:
        stmt = stmt.where(OperatorEvent.endpoint_id == endpoint_id)
    if channel_id is not None:
        stmt = stmt.where(OperatorEvent.channel_id == channel_id)
    return await fetch_page(session, stmt, OperatorEvent.id, page)


def require_enabled(target: Destination) -> None:
    """Sending to a disabled endpoint or channel (a test, a replay) is a 409 that says why it is off and what to do."""
    if not target.enabled:
        noun = "Channel" if isinstance(target, NotificationChannel) else "Endpoint"
        why = target.disabled_reason or "by an admin"
        raise Conflict(f"{noun} {target.id} is disabled ({why}); enable it first.")


async def replay(session: AsyncSession, *, delivery_id: uuid.UUID, to_channel: bool = False) -> WebhookDelivery:
    """Send a delivery again now, with the same webhook-id (a manual attempt).

    The job is for the next attempt number: if a scheduled retry is waiting, whichever of the two runs first
    sends and the other steps aside, so the replay never starts a second retry chain."""
    delivery = await get_or_404(session, WebhookDelivery, delivery_id)
    if (delivery.channel_id is not None) != to_channel:  # each route replays its own kind of delivery
        raise NotFound(f"No {'notification' if to_channel else 'webhook'} delivery {delivery_id}.")
    require_enabled(await destination(session, delivery))
    delivery.status, delivery.next_attempt_at = DeliveryStatus.pending, datetime.now(UTC)
    await session.flush()
    DELIVER_WEBHOOK.defer(
        session,
        job_id=delivery_job_id(delivery.id, delivery.attempts + 1, f":manual:{uuid.uuid4().hex[:8]}"),
        delivery_id=str(delivery.id),
        trigger="manual",
        attempt=delivery.attempts + 1,
    )
    return delivery


async def send_test(session: AsyncSession, *, endpoint_id: uuid.UUID, settings: Settings) -> WebhookEvent:
    """A signed `webhook.test` event to this endpoint only (whatever it subscribes to), delivered after the commit
    through the normal path: same signature, retries and delivery log as every event."""
    endpoint = await get_or_404(session, WebhookEndpoint, endpoint_id)
    require_enabled(endpoint)
    return await emit_to(
        session,
        org_id=endpoint.org_id,
        type_=EventType.webhook_test,
        endpoints=[endpoint],
        data={
            "endpoint_id": str(endpoint.id),
            "message": "A test event: your endpoint receives and verifies this service's webhooks.",
            "dashboard_url": f"{settings.public_base_url}/dashboard",
        },
    )
