"""Notification channels, the routing, silences: saving them, their test event, their delivery log."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.crud import apply_changes, get_or_404, require_refs
from services.api.notifications.schemas import (
    WEEKDAYS,
    ChannelCreate,
    ChannelUpdate,
    DigestSchedule,
    EmailSettings,
    RoutingSet,
    SilenceCreate,
)
from services.api.pagination import PageParams, encode_cursor, fetch_page
from services.api.problems import Conflict, Unprocessable
from services.api.webhooks.service import require_enabled, safe_url
from shared.alerts.notices import conclude_silence, schedule_next
from shared.department.models import Team
from shared.kpis.models import Kpi
from shared.orgs.clock import session_zone
from shared.orgs.models import ApiKey
from shared.settings import Settings
from shared.webhooks.channels.models import ChannelKind, NotificationChannel, NotificationRouting, Silence
from shared.webhooks.channels.routing import Disposition
from shared.webhooks.channels.smtp import REFUSAL_ADVICE
from shared.webhooks.events import Subscribers, emit_to
from shared.webhooks.models import DeliveryStatus, EventType, WebhookAttempt, WebhookDelivery, WebhookEvent
from shared.webhooks.ssrf import UnsafeUrl, check_host

MAX_SILENCE = timedelta(days=90)


async def safe_host(host: str, port: int, settings: Settings) -> None:
    """422 when the SMTP host is, or resolves to, an address the SSRF guard refuses."""
    try:
        await check_host(host, port, allowed_cidrs=settings.webhook_allowed_cidrs, advice=REFUSAL_ADVICE)
    except UnsafeUrl as exc:
        message = str(exc)
        raise Unprocessable(
            f"body.email.host: {message}",
            errors=[{"location": "body.email.host", "message": message, "type": "unsafe_url"}],
        ) from exc


def _email_config(email: EmailSettings) -> dict[str, Any]:
    return email.model_dump(exclude={"password"})


def _set_digest(channel: NotificationChannel, digest: DigestSchedule | None, tz: str, now: datetime) -> None:
    channel.digest_frequency = digest.frequency if digest else None
    channel.digest_time = digest.time if digest else None
    weekday = (digest.weekday or "monday") if digest and digest.frequency.value == "weekly" else None
    channel.digest_weekday = WEEKDAYS.index(weekday) if weekday else None
    schedule_next(channel, tz, now)


def digest_of(channel: NotificationChannel) -> DigestSchedule | None:
    if channel.digest_frequency is None or channel.digest_time is None:
        return None
    weekday = WEEKDAYS[channel.digest_weekday] if channel.digest_weekday is not None else None
    return DigestSchedule.model_validate(
        {"frequency": channel.digest_frequency, "time": channel.digest_time, "weekday": weekday}
    )


def target_of(channel: NotificationChannel) -> str:
    """Where the channel posts: a webhook URL's scheme and host only (its path and query may hold the token)."""
    if channel.kind == ChannelKind.email:
        config = channel.config
        return f"{config['host']}:{config['port']} → {', '.join(config['recipients'])}"
    parts = urlsplit(channel.secret or "")
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…"


async def create_channel(session: AsyncSession, *, body: ChannelCreate, settings: Settings) -> NotificationChannel:
    """A new channel; a Slack or Teams URL must not point inside (the webhook SSRF guard), an SMTP host likewise."""
    if body.url is not None:
        await safe_url(body.url, settings)
    channel = NotificationChannel(name=body.name, kind=body.kind, enabled=body.enabled, config={})
    if body.email is not None:
        await safe_host(body.email.host, body.email.port, settings)
        channel.config, channel.secret = _email_config(body.email), body.email.password
    else:
        channel.secret = body.url
    _set_digest(channel, body.digest, await session_zone(session), datetime.now(UTC))
    session.add(channel)
    await session.flush()
    return channel


async def update_channel(
    session: AsyncSession, *, channel_id: uuid.UUID, body: ChannelUpdate, settings: Settings
) -> NotificationChannel:
    """Change a channel; enabling it again clears why it was disabled; its kind stays."""
    channel = await get_or_404(session, NotificationChannel, channel_id)
    changes = body.changes()
    if "url" in changes:
        if channel.kind == ChannelKind.email:
            raise Unprocessable(
                "body.url: only Slack and Teams channels have a URL",
                errors=[{"location": "body.url", "message": "not for this channel", "type": "invalid"}],
            )
        await safe_url(changes["url"], settings)
        channel.secret = changes.pop("url")
    if "email" in changes:
        if channel.kind != ChannelKind.email or body.email is None:
            raise Unprocessable(
                "body.email: only e-mail channels have SMTP settings, and an e-mail channel cannot do without them",
                errors=[{"location": "body.email", "message": "not for this channel", "type": "invalid"}],
            )
        await safe_host(body.email.host, body.email.port, settings)
        channel.config, channel.secret = _email_config(body.email), body.email.password
        changes.pop("email")
    if "digest" in changes:
        _set_digest(channel, body.digest, await session_zone(session), datetime.now(UTC))
        changes.pop("digest")
    if changes.get("enabled") and not channel.enabled:
        channel.disabled_reason, channel.disabled_at, channel.failing_since = None, None, None
    apply_changes(channel, changes)
    await session.flush()
    return channel


async def delete_channel(session: AsyncSession, *, channel_id: uuid.UUID) -> None:
    """Delete a channel with its deliveries; one the routing still names is a 409 (change the routing first)."""
    channel = await get_or_404(session, NotificationChannel, channel_id)
    routing = await session.scalar(select(NotificationRouting))
    if routing is not None:
        key = str(channel.id)
        rules = [r["name"] for r in routing.rules if key in r.get("channel_ids", [])]
        if rules or key in routing.default_channel_ids:
            named = [f"rule “{r}”" for r in rules] + (
                ["the default route"] if key in routing.default_channel_ids else []
            )
            raise Conflict(
                f"Channel {channel.id} is used by {', '.join(named)}; change the routing "
                "(PUT /v1/notification-routing) first."
            )
    await session.delete(channel)


async def get_channel(session: AsyncSession, *, channel_id: uuid.UUID) -> NotificationChannel:
    return await get_or_404(session, NotificationChannel, channel_id)


async def get_silence(session: AsyncSession, *, silence_id: uuid.UUID) -> Silence:
    return await get_or_404(session, Silence, silence_id)


async def list_channels(session: AsyncSession, *, page: PageParams):
    return await fetch_page(session, select(NotificationChannel), NotificationChannel.id, page)


async def send_test(session: AsyncSession, *, channel_id: uuid.UUID, settings: Settings) -> WebhookEvent:
    """A `notification.test` message to this channel only, now: no routing, silence or quiet hours apply."""
    channel = await get_or_404(session, NotificationChannel, channel_id)
    require_enabled(channel)
    return await emit_to(
        session,
        org_id=channel.org_id,
        type_=EventType.notification_test,
        endpoints=[],
        channels=[Disposition(channel, DeliveryStatus.pending, datetime.now(UTC))],
        data={
            "channel": {"id": str(channel.id), "name": channel.name, "kind": channel.kind.value},
            "message": "A test notification: this channel receives this service's alerts and digests.",
            "dashboard_url": f"{settings.public_base_url}/dashboard",
        },
    )


async def list_deliveries(session: AsyncSession, *, channel_id: uuid.UUID, page: PageParams, status: str | None):
    """The channel's deliveries, oldest first, each with its event and attempts (two queries a page)."""
    await get_or_404(session, NotificationChannel, channel_id)
    stmt = (
        select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.channel_id == channel_id)
    )
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if page.after is not None:
        stmt = stmt.where(WebhookDelivery.id > page.after)
    rows = (await session.execute(stmt.order_by(WebhookDelivery.id).limit(page.limit + 1))).all()
    cursor = None
    if len(rows) > page.limit:
        rows, cursor = rows[: page.limit], encode_cursor(rows[page.limit - 1][0].id)
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {}
    if rows:
        found = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_([d.id for d, _ in rows]))
            .order_by(WebhookAttempt.number)
        )
        for attempt in found:
            attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return [(d, type_, attempts.get(d.id, [])) for d, type_ in rows], cursor


async def get_routing(session: AsyncSession) -> NotificationRouting | None:
    return await session.scalar(select(NotificationRouting))


async def set_routing(
    session: AsyncSession, *, org_id: uuid.UUID, key_id: uuid.UUID, body: RoutingSet
) -> NotificationRouting:
    """Replace the routing; every channel, team and KPI it names must be this organisation's (422 naming each)."""
    refs: dict[str, tuple[type[Any], uuid.UUID | None]] = {}
    for i, rule in enumerate(body.rules):
        refs |= {f"rules.{i}.channel_ids.{j}": (NotificationChannel, c) for j, c in enumerate(rule.channel_ids)}
        refs |= {f"rules.{i}.match.team_ids.{j}": (Team, t) for j, t in enumerate(rule.match.team_ids)}
        refs |= {f"rules.{i}.match.kpi_ids.{j}": (Kpi, k) for j, k in enumerate(rule.match.kpi_ids)}
    refs |= {f"default_channel_ids.{j}": (NotificationChannel, c) for j, c in enumerate(body.default_channel_ids)}
    await require_refs(session, refs)
    routing = await session.scalar(select(NotificationRouting)) or NotificationRouting(org_id=org_id)
    dumped = body.model_dump(mode="json")
    routing.mode, routing.rules = dumped["mode"], dumped["rules"]
    routing.default_channel_ids, routing.quiet_hours = dumped["default_channel_ids"], dumped["quiet_hours"]
    routing.updated_at, routing.updated_by_key_id = datetime.now(UTC), key_id
    session.add(routing)
    await session.flush()
    return routing


def silence_state(silence: Silence, now: datetime) -> str:
    if silence.ends_at <= now:
        return "expired"
    return "active" if silence.starts_at <= now else "pending"


async def create_silence(session: AsyncSession, *, key_id: uuid.UUID, body: SilenceCreate) -> Silence:
    now = datetime.now(UTC)
    starts_at = body.starts_at or now
    problems = []
    if body.ends_at <= max(starts_at, now):
        problems.append(("body.ends_at", "must be later than starts_at and than now"))
    elif body.ends_at - starts_at > MAX_SILENCE:
        problems.append(("body.ends_at", "a silence lasts at most 90 days"))
    if problems:
        location, message = problems[0]
        raise Unprocessable(
            f"{location}: {message}", errors=[{"location": location, "message": message, "type": "date_order"}]
        )
    match = body.match
    refs: dict[str, tuple[type[Any], uuid.UUID | None]] = {
        **{f"match.team_ids.{j}": (Team, t) for j, t in enumerate(match.team_ids)},
        **{f"match.kpi_ids.{j}": (Kpi, k) for j, k in enumerate(match.kpi_ids)},
    }
    await require_refs(session, refs)
    key_name = await session.scalar(select(ApiKey.name).where(ApiKey.id == key_id))
    silence = Silence(
        starts_at=starts_at,
        ends_at=body.ends_at,
        matchers=match.model_dump(mode="json"),
        comment=body.comment,
        created_by=key_name or str(key_id),
        created_by_key_id=key_id,
    )
    session.add(silence)
    await session.flush()
    return silence


async def list_silences(session: AsyncSession, *, page: PageParams, state: str | None):
    stmt = select(Silence)
    now = datetime.now(UTC)
    if state == "active":
        stmt = stmt.where(Silence.starts_at <= now, Silence.ends_at > now)
    elif state == "pending":
        stmt = stmt.where(Silence.starts_at > now)
    elif state == "expired":
        stmt = stmt.where(Silence.ends_at <= now)
    return await fetch_page(session, stmt, Silence.id, page)


async def end_silence(session: AsyncSession, *, silence_id: uuid.UUID, key_id: uuid.UUID) -> Silence:
    """End it now: what it muted and is still open is notified at once (once: an expired silence is a 409)."""
    silence = await get_or_404(session, Silence, silence_id)
    now = datetime.now(UTC)
    key_name = await session.scalar(select(ApiKey.name).where(ApiKey.id == key_id))
    # Conditional: of two DELETEs at once, one ends it and the other is told it had ended.
    ended: CursorResult[Any] = await session.execute(  # type: ignore[assignment]  # an UPDATE's result
        update(Silence)
        .where(Silence.id == silence.id, Silence.ends_at > now)
        .values(
            ends_at=now,
            ended_early_at=now,
            ended_by=key_name or str(key_id),
            starts_at=case((Silence.starts_at > now, now), else_=Silence.starts_at),
        )
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:
        raise Conflict(f"Silence {silence.id} already ended at {silence.ends_at.isoformat()}.")
    await session.refresh(silence)
    await conclude_silence(session, silence, now, Subscribers(session))
    return silence
