"""Routes: notification channels (admin), the routing (admin), silences (editors and admins make them)."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from services.api.deps import Admin, Editor, Reader, SessionDep, StateDep
from services.api.notifications import service
from services.api.notifications.schemas import (
    ChannelCreate,
    ChannelOut,
    ChannelTestSent,
    ChannelUpdate,
    EmailOut,
    Match,
    NotificationAttempt,
    NotificationDeliveryOut,
    QuietHours,
    RoutingOut,
    RoutingSet,
    Rule,
    SilenceCreate,
    SilenceOut,
)
from services.api.pagination import PageDep
from services.api.problems import V1_ERRORS, problem_responses
from services.api.schemas import Page
from services.api.webhooks import service as webhooks
from services.api.webhooks.schemas import ReplayAccepted
from shared.orgs.clock import session_zone
from shared.webhooks.channels.models import ChannelKind, NotificationChannel, NotificationRouting, Silence
from shared.webhooks.models import DeliveryStatus

router = APIRouter(prefix="/v1", tags=["notifications"], responses=V1_ERRORS)


def _channel_out(channel: NotificationChannel) -> ChannelOut:
    email = None
    if channel.kind == ChannelKind.email:
        email = EmailOut(**channel.config, has_password=channel.secret is not None)
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        kind=channel.kind,
        target=service.target_of(channel),
        email=email,
        digest=service.digest_of(channel),
        next_digest_at=channel.next_digest_at,
        last_digest_at=channel.last_digest_at,
        enabled=channel.enabled,
        disabled_reason=channel.disabled_reason,
        disabled_at=channel.disabled_at,
        failing_since=channel.failing_since,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


@router.post("/notification-channels", status_code=status.HTTP_201_CREATED, response_model=ChannelOut)
async def create_channel(body: ChannelCreate, session: SessionDep, _: Admin, state: StateDep) -> ChannelOut:
    """Add a place people read (admin only): a Slack incoming webhook (Block Kit messages), a Microsoft Teams
    Workflows webhook (Adaptive Cards), or e-mail over SMTP (HTML and plain text). The URL or SMTP password is
    sealed at rest and never returned. Events reach it through the routing (`PUT /v1/notification-routing`);
    `digest` adds a daily or weekly summary at a local time."""
    return _channel_out(await service.create_channel(session, body=body, settings=state.settings))


@router.get("/notification-channels", response_model=Page[ChannelOut])
async def list_channels(session: SessionDep, _: Admin, page: PageDep) -> Page[ChannelOut]:
    """The organisation's channels, oldest first."""
    channels, cursor = await service.list_channels(session, page=page)
    return Page[ChannelOut](items=[_channel_out(c) for c in channels], next_cursor=cursor)


@router.get("/notification-channels/{channel_id}", response_model=ChannelOut)
async def get_channel(channel_id: uuid.UUID, session: SessionDep, _: Admin) -> ChannelOut:
    """One channel, with why it was disabled if it was (410 from Slack/Teams, or failing for days)."""
    return _channel_out(await service.get_channel(session, channel_id=channel_id))


@router.patch("/notification-channels/{channel_id}", response_model=ChannelOut)
async def update_channel(
    channel_id: uuid.UUID, body: ChannelUpdate, session: SessionDep, _: Admin, state: StateDep
) -> ChannelOut:
    """Change a channel's name, URL, SMTP settings, digest (`null`: none) or `enabled` flag."""
    return _channel_out(
        await service.update_channel(session, channel_id=channel_id, body=body, settings=state.settings)
    )


@router.delete(
    "/notification-channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(409)
)
async def delete_channel(channel_id: uuid.UUID, session: SessionDep, _: Admin) -> Response:
    """Delete a channel with its delivery log; a channel the routing names is a 409."""
    await service.delete_channel(session, channel_id=channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/notification-channels/{channel_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409),
    response_model=ChannelTestSent,
)
async def send_test(channel_id: uuid.UUID, session: SessionDep, _: Admin, state: StateDep) -> ChannelTestSent:
    """Send a test message to this channel now, whatever the routing, silences and quiet hours say; its attempt
    shows in the channel's deliveries. A disabled channel is a 409."""
    event = await service.send_test(session, channel_id=channel_id, settings=state.settings)
    return ChannelTestSent(
        event_id=event.id,
        event_type=event.type.value,
        channel_id=channel_id,
        deliveries_url=f"/v1/notification-channels/{channel_id}/deliveries",
    )


@router.get("/notification-channels/{channel_id}/deliveries", response_model=Page[NotificationDeliveryOut])
async def list_deliveries(
    channel_id: uuid.UUID,
    session: SessionDep,
    _: Admin,
    page: PageDep,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> Page[NotificationDeliveryOut]:
    """What went to this channel, oldest first: each delivery's status (held by quiet hours, silenced and by which
    silence, delivered…) and every attempt (status code or SMTP reply, duration, the start of the answer)."""
    rows, cursor = await service.list_deliveries(
        session, channel_id=channel_id, page=page, status=delivery_status.value if delivery_status else None
    )
    items = [
        NotificationDeliveryOut(
            id=d.id,
            event_id=d.event_id,
            event_type=type_.value,
            status=d.status,
            silence_id=d.silence_id,
            next_attempt_at=d.next_attempt_at,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
            attempts=[NotificationAttempt.model_validate(a) for a in attempts],
        )
        for d, type_, attempts in rows
    ]
    return Page[NotificationDeliveryOut](items=items, next_cursor=cursor)


@router.post(
    "/notification-deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409),
    response_model=ReplayAccepted,
)
async def retry_delivery(delivery_id: uuid.UUID, session: SessionDep, _: Admin) -> ReplayAccepted:
    """Send a channel's delivery again now (a manual attempt): a failed one, or a held or silenced one on purpose."""
    delivery = await webhooks.replay(session, delivery_id=delivery_id, to_channel=True)
    return ReplayAccepted(delivery_id=delivery.id, status=delivery.status)


def _routing_out(routing: NotificationRouting | None, tz: str) -> RoutingOut:
    if routing is None:
        return RoutingOut(
            mode="first", rules=[], default_channel_ids=[], quiet_hours=None, time_zone=tz, updated_at=None
        )
    return RoutingOut(
        mode=routing.mode,
        rules=[Rule.model_validate(r) for r in routing.rules],
        default_channel_ids=[uuid.UUID(c) for c in routing.default_channel_ids],
        quiet_hours=QuietHours.model_validate(routing.quiet_hours) if routing.quiet_hours else None,
        time_zone=tz,
        updated_at=routing.updated_at,
    )


@router.get("/notification-routing", response_model=RoutingOut)
async def get_routing(session: SessionDep, _: Reader) -> RoutingOut:
    """Who gets what: the rules in order, the mode, the default route and the quiet hours."""
    return _routing_out(await service.get_routing(session), await session_zone(session))


@router.put("/notification-routing", response_model=RoutingOut)
async def set_routing(body: RoutingSet, session: SessionDep, principal: Admin) -> RoutingOut:
    """Replace the routing (admin only). Each rule matches events by type, severity, KPI category, the KPI
    owner's team or KPI (each list empty: anything) and names channels. Mode `first` (the default) sends an event to
    the first matching rule's channels, `all` to every matching rule's; an event no rule matches goes to
    `default_channel_ids`. During `quiet_hours` (local time of the organisation's zone) notifications that are not
    critical wait, and only the latest per KPI target is sent when they end."""
    routing = await service.set_routing(session, org_id=principal.org_id, key_id=principal.key_id, body=body)
    return _routing_out(routing, await session_zone(session))


def _silence_out(silence: Silence, now: datetime) -> SilenceOut:
    return SilenceOut(
        id=silence.id,
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        match=Match.model_validate(silence.matchers),
        comment=silence.comment,
        created_by=silence.created_by,
        state=service.silence_state(silence, now),  # type: ignore[arg-type]
        ended_early_at=silence.ended_early_at,
        ended_by=silence.ended_by,
        concluded_at=silence.concluded_at,
        created_at=silence.created_at,
    )


@router.post("/silences", status_code=status.HTTP_201_CREATED, response_model=SilenceOut)
async def create_silence(body: SilenceCreate, session: SessionDep, principal: Editor) -> SilenceOut:
    """Mute the notifications that match (never the alerts: they still open, change and resolve) from `starts_at`
    (now) until `ends_at`, with a `comment` saying why; the key's name is kept as who. When it ends, each KPI whose
    notifications it muted and whose alert is still open is notified once, with its latest state."""
    silence = await service.create_silence(session, key_id=principal.key_id, body=body)
    return _silence_out(silence, datetime.now(UTC))


@router.get("/silences", response_model=Page[SilenceOut])
async def list_silences(
    session: SessionDep,
    _: Reader,
    page: PageDep,
    state: Literal["pending", "active", "expired"] | None = None,
) -> Page[SilenceOut]:
    """Silences, oldest first; `state` filters pending, active or expired ones."""
    silences, cursor = await service.list_silences(session, page=page, state=state)
    now = datetime.now(UTC)
    return Page[SilenceOut](items=[_silence_out(s, now) for s in silences], next_cursor=cursor)


@router.get("/silences/{silence_id}", response_model=SilenceOut)
async def get_silence(silence_id: uuid.UUID, session: SessionDep, _: Reader) -> SilenceOut:
    """One silence: what it matches, why and by whom, and whether it is pending, active or expired."""
    return _silence_out(await service.get_silence(session, silence_id=silence_id), datetime.now(UTC))


@router.delete("/silences/{silence_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(409))
async def end_silence(silence_id: uuid.UUID, session: SessionDep, principal: Editor) -> Response:
    """End a silence now (it stays listed, expired, with who ended it). What it muted and is still open is notified
    at once; an expired silence is a 409."""
    await service.end_silence(session, silence_id=silence_id, key_id=principal.key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
