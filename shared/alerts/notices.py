"""The notification sweeps: release what quiet hours held, re-notify what is still open when a silence ends, and
send each channel's digest at its local time.

Each runs every minute and takes `now` (ISO 8601) for tests that travel in time; without it, the clock's now.
"""

import copy
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.alerts.digest import digest_data, digest_window, next_digest_at
from shared.alerts.models import Alert, AlertStatus
from shared.jobs.context import JobContext, job_session
from shared.jobs.registry import cron_job
from shared.orgs.models import Org
from shared.webhooks.channels.models import NotificationChannel, Silence
from shared.webhooks.channels.routing import Disposition, Facts
from shared.webhooks.events import Subscribers, emit_to, send_now
from shared.webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEvent

BATCH = 1000
# What a silence's end re-notifies: an alert's latest state, if the alert is still open.
_STILL_OPEN = (AlertStatus.open, AlertStatus.acknowledged)


def _now(now: str | None) -> datetime:
    return datetime.fromisoformat(now).astimezone(UTC) if now else datetime.now(UTC)


def subject_of_target(target_id: uuid.UUID) -> str:
    return f"target:{target_id}"


@cron_job(name="notifications.release_held", every_s=60)
async def release_held(ctx: JobContext, now: str | None = None) -> int:
    """Send what quiet hours held, once they are over: per channel and subject (a KPI target), only the latest
    (the others become `superseded`): a night of at-risk/off-track/recovered flapping is one message, not five."""
    at = _now(now)
    async with job_session(ctx) as session:
        rows = (
            await session.execute(
                select(WebhookDelivery, WebhookEvent.subject)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.status == DeliveryStatus.held, WebhookDelivery.next_attempt_at <= at)
                .order_by(WebhookEvent.timestamp, WebhookDelivery.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            )
        ).all()
        latest: dict[tuple[uuid.UUID | None, str], WebhookDelivery] = {}
        for delivery, subject in rows:
            key = (delivery.channel_id, subject or str(delivery.id))
            if key in latest:
                latest[key].status, latest[key].next_attempt_at = DeliveryStatus.superseded, None
            latest[key] = delivery
        for delivery in latest.values():
            delivery.status, delivery.next_attempt_at = DeliveryStatus.pending, at
        await session.flush()
        send_now(session, list(latest.values()))
    return len(latest)


async def conclude_silence(session: AsyncSession, silence: Silence, now: datetime, subscribers: Subscribers) -> int:
    """The silence is over: for each KPI target whose notifications it muted and whose alert is still open, one
    notification of the alert's latest state, to the channels it was muted for (as routing disposes them now:
    another silence or quiet hours may still apply). Muted events are not replayed; a target whose alert resolved
    meanwhile gets nothing. Returns how many subjects were re-notified."""
    silence.concluded_at = now
    muted = (
        await session.execute(
            select(WebhookDelivery.channel_id, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.silence_id == silence.id, WebhookDelivery.status == DeliveryStatus.silenced)
            .order_by(WebhookEvent.timestamp)
        )
    ).all()
    latest: dict[str, tuple[WebhookEvent, list[uuid.UUID]]] = {}
    for channel_id, event in muted:
        if not event.subject or not event.subject.startswith("target:") or channel_id is None:
            continue  # budget and ingest events are one-off: there is nothing "still open" to say
        channels = latest[event.subject][1] if event.subject in latest else []
        latest[event.subject] = (event, [*channels, channel_id] if channel_id not in channels else channels)
    if not latest:
        return 0
    target_ids = [uuid.UUID(subject.removeprefix("target:")) for subject in latest]
    alerts = {
        a.target_id: a
        for a in (
            await session.scalars(select(Alert).where(Alert.target_id.in_(target_ids), Alert.status.in_(_STILL_OPEN)))
        ).all()
    }
    routes = await subscribers.routes(silence.org_id, now)
    sent = 0
    for subject, (event, channel_ids) in latest.items():
        alert = alerts.get(uuid.UUID(subject.removeprefix("target:")))
        if alert is None or event.type == EventType.kpi_recovered:
            continue
        data = copy.deepcopy(event.payload["data"])
        data["alert"] = {"id": str(alert.id), "status": alert.status.value, "severity": alert.severity.value}
        extra = dict(event.extra or {})
        facts = Facts.from_extra(event.type, extra)
        disposed = [
            routes.dispose(routes.channels[str(c)], facts, now) for c in channel_ids if str(c) in routes.channels
        ]
        if not disposed:
            continue
        extra["note"] = f"Still open after the silence “{silence.comment}” ended"
        await emit_to(
            session,
            org_id=silence.org_id,
            type_=event.type,
            data=data,
            endpoints=[],
            channels=disposed,
            subject=subject,
            extra=extra,
        )
        sent += 1
    return sent


@cron_job(name="notifications.silences_ended", every_s=60)
async def silences_ended(ctx: JobContext, now: str | None = None) -> int:
    """Conclude every silence that has ended (its time ran out; one ended early is concluded by its DELETE)."""
    at = _now(now)
    async with job_session(ctx) as session:
        ended: Sequence[Silence] = (
            await session.scalars(
                select(Silence)
                .where(Silence.ends_at <= at, Silence.concluded_at.is_(None))
                .order_by(Silence.ends_at)
                .limit(100)
                .with_for_update(skip_locked=True)
            )
        ).all()
        subscribers = Subscribers(session)
        for silence in ended:
            await conclude_silence(session, silence, at, subscribers)
    return len(ended)


def _schedule(channel: NotificationChannel) -> dict[str, Any] | None:
    """The channel's digest schedule as `next_digest_at` and `digest_window` take it; None without a digest."""
    if channel.digest_frequency is None or channel.digest_time is None:
        return None
    hours, minutes = channel.digest_time.split(":")
    return {
        "frequency": channel.digest_frequency.value,
        "at": time(int(hours), int(minutes)),
        "weekday": channel.digest_weekday,
    }


def schedule_next(channel: NotificationChannel, tz: str, after: datetime) -> None:
    """Set the channel's next digest (None without a digest)."""
    schedule = _schedule(channel)
    channel.next_digest_at = None if schedule is None else next_digest_at(**schedule, time_zone=tz, after=after)


@cron_job(name="notifications.digests", every_s=60)
async def send_digests(ctx: JobContext, now: str | None = None) -> int:
    """Each channel whose digest is due gets it: the window from the schedule's previous time to this one (a day,
    or a week, of local time). A digest missed while no worker ran is sent once, late, not once per missed day; the
    next is scheduled after now."""
    at = _now(now)
    settings = ctx["settings"]
    async with job_session(ctx) as session:
        due: Sequence[NotificationChannel] = (
            await session.scalars(
                select(NotificationChannel)
                .where(NotificationChannel.enabled.is_(True), NotificationChannel.next_digest_at <= at)
                .order_by(NotificationChannel.next_digest_at)
                .limit(100)
                .with_for_update(skip_locked=True)
            )
        ).all()
        orgs = {o.id: o for o in (await session.scalars(select(Org).where(Org.id.in_({c.org_id for c in due})))).all()}
        for channel in due:
            org, schedule = orgs[channel.org_id], _schedule(channel)
            if schedule is None or channel.next_digest_at is None:
                continue
            since, until = digest_window(**schedule, time_zone=org.time_zone, due=channel.next_digest_at)
            data = await digest_data(
                session, org=org, frequency=schedule["frequency"], since=since, until=until, settings=settings
            )
            await emit_to(
                session,
                org_id=org.id,
                type_=EventType.notification_digest,
                data=data,
                endpoints=[],
                channels=[Disposition(channel, DeliveryStatus.pending, at)],
                subject=f"digest:{channel.id}",
                extra={"org_name": org.name},
            )
            channel.last_digest_at = until
            schedule_next(channel, org.time_zone, at)
    return len(due)
