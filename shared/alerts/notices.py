"""The notification sweeps: release what quiet hours held, re-notify what is still open when a silence ends, and
send each channel's digest at its local time.

They run one after another every minute, as one cron job (`notifications.sweep`), which takes `now` (ISO 8601) for
tests that travel in time; without it, the clock's now.
"""

import copy
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from shared.alerts.digest import digest_data, digest_window, next_digest_at, previous_digest_at
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


async def release_held(ctx: JobContext, now: str | None = None) -> int:
    """Send what quiet hours held, once they are over: per channel and subject (a KPI target), only the latest
    (the others become `superseded`): a night of at-risk/off-track/recovered flapping is one message, not five.
    A held one older than a notification of its subject already sent (a critical one is never held) is stale:
    superseded too. One that a silence made since then matches is silenced, as if it came now.

    Each delivery is taken with a conditional UPDATE (`status` still `held`), so two sweeps at once (two workers;
    or SQLite, which has no row locks) release each delivery once: the second finds it taken."""
    at = _now(now)
    async with job_session(ctx) as session:
        rows = (
            await session.execute(
                select(WebhookDelivery, WebhookEvent)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.status == DeliveryStatus.held, WebhookDelivery.next_attempt_at <= at)
                .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
                .limit(BATCH)
            )
        ).all()
        latest: dict[tuple[uuid.UUID | None, str], tuple[WebhookDelivery, WebhookEvent]] = {}
        replaced: list[uuid.UUID] = []
        for delivery, event in rows:
            key = (delivery.channel_id, event.subject or str(delivery.id))
            if key in latest:
                replaced.append(latest[key][0].id)
            latest[key] = (delivery, event)
        targets = {k for k in latest if k[1].startswith("target:")}
        sent = await _last_of(session, targets, NOT_SENT, exclude=True)
        # A newer held one beyond this batch (over BATCH due at once) goes out instead, in a later batch.
        newer_held = await _last_of(session, targets, (DeliveryStatus.held,))
        silenced: dict[uuid.UUID, list[uuid.UUID]] = {}
        subscribers = Subscribers(session)
        for key, (delivery, event) in list(latest.items()):
            if max(sent.get(key, delivery.created_at), newer_held.get(key, delivery.created_at)) > delivery.created_at:
                replaced.append(latest.pop(key)[0].id)
                continue
            routes = await subscribers.routes(delivery.org_id, at)
            silence = routes.silence_for(Facts.from_extra(event.type, event.extra or {}), at)
            if silence is not None:
                silenced.setdefault(silence.id, []).append(latest.pop(key)[0].id)
        await _take_held(session, replaced, DeliveryStatus.superseded, None)
        for silence_id, ids in silenced.items():
            await _take_held(session, ids, DeliveryStatus.silenced, None, silence_id=silence_id)
        released = await _take_held(session, [d.id for d, _ in latest.values()], DeliveryStatus.pending, at)
        send_now(session, released)
    return len(released)


# What was never sent (nor is being sent): a notification newer than a held or muted one is one not of these.
NOT_SENT = (DeliveryStatus.held, DeliveryStatus.silenced, DeliveryStatus.superseded, DeliveryStatus.skipped)


async def _last_of(
    session: AsyncSession,
    keys: set[tuple[uuid.UUID | None, str]],
    statuses: tuple[DeliveryStatus, ...],
    *,
    exclude: bool = False,
) -> dict[tuple[uuid.UUID | None, str], datetime]:
    """When each (channel, subject) last had a delivery in `statuses` (or, `exclude`, in none of them): one query."""
    if not keys:
        return {}
    wanted = WebhookDelivery.status.not_in(statuses) if exclude else WebhookDelivery.status.in_(statuses)
    found = await session.execute(
        select(WebhookDelivery.channel_id, WebhookEvent.subject, func.max(WebhookDelivery.created_at))
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.channel_id.in_({c for c, _ in keys if c is not None}),
            WebhookEvent.subject.in_({s for _, s in keys}),
            wanted,
        )
        .group_by(WebhookDelivery.channel_id, WebhookEvent.subject)
    )
    return {(channel_id, subject or ""): at for channel_id, subject, at in found if at is not None}


async def _take_held(
    session: AsyncSession,
    ids: list[uuid.UUID],
    status: DeliveryStatus,
    due: datetime | None,
    *,
    silence_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Move these deliveries out of `held`, those still in it; the ids this call moved."""
    if not ids:
        return []
    taken = await session.scalars(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == DeliveryStatus.held)
        .values(status=status, next_attempt_at=due, silence_id=silence_id)
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    return list(taken)


async def conclude_silence(session: AsyncSession, silence: Silence, now: datetime, subscribers: Subscribers) -> int:
    """The silence is over: for each KPI target whose notifications it muted and whose alert is still open, one
    notification of the alert's latest state, to the channels it was muted for (as routing disposes them now:
    another silence or quiet hours may still apply). Muted events are not replayed; a target whose alert resolved
    meanwhile gets nothing. Returns how many subjects were re-notified.

    Concluded once: a conditional UPDATE claims it (the sweep and a DELETE of the silence may meet)."""
    claimed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]  # an UPDATE's result
        update(Silence)
        .where(Silence.id == silence.id, Silence.concluded_at.is_(None))
        .values(concluded_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return 0
    set_committed_value(silence, "concluded_at", now)
    muted = (
        await session.execute(
            select(WebhookDelivery.channel_id, WebhookDelivery.created_at, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.silence_id == silence.id, WebhookDelivery.status == DeliveryStatus.silenced)
            .order_by(WebhookDelivery.created_at)
        )
    ).all()
    latest: dict[str, tuple[WebhookEvent, dict[uuid.UUID, datetime]]] = {}
    for channel_id, muted_at, event in muted:
        if not event.subject or not event.subject.startswith("target:") or channel_id is None:
            continue  # budget and ingest events are one-off: there is nothing "still open" to say
        channels = latest[event.subject][1] if event.subject in latest else {}
        latest[event.subject] = (event, {**channels, channel_id: muted_at})
    if not latest:
        return 0
    # A channel told something newer about the target since (a notification the silence did not match) has
    # nothing stale repeated to it.
    sent = await _last_of(session, {(c, s) for s, (_, cs) in latest.items() for c in cs}, NOT_SENT, exclude=True)
    target_ids = [uuid.UUID(subject.removeprefix("target:")) for subject in latest]
    alerts = {
        a.target_id: a
        for a in (
            await session.scalars(select(Alert).where(Alert.target_id.in_(target_ids), Alert.status.in_(_STILL_OPEN)))
        ).all()
    }
    routes = await subscribers.routes(silence.org_id, now)
    renotified = 0
    for subject, (event, channel_ids) in latest.items():
        alert = alerts.get(uuid.UUID(subject.removeprefix("target:")))
        if alert is None or event.type == EventType.kpi_recovered:
            continue
        data = copy.deepcopy(event.payload["data"])
        data["alert"] = {"id": str(alert.id), "status": alert.status.value, "severity": alert.severity.value}
        extra = dict(event.extra or {})
        facts = Facts.from_extra(event.type, extra)
        disposed = [
            routes.dispose(routes.channels[str(c)], facts, now)
            for c, muted_at in channel_ids.items()
            if str(c) in routes.channels and sent.get((c, subject), muted_at) <= muted_at
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
        renotified += 1
    return renotified


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
            )
        ).all()
        subscribers = Subscribers(session)
        concluded = 0
        for silence in ended:  # each read unconcluded: it is concluded here if this sweep's claim took it
            await conclude_silence(session, silence, at, subscribers)
            concluded += silence.concluded_at is not None
    return concluded


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


async def send_digests(ctx: JobContext, now: str | None = None) -> int:
    """Each channel whose digest is due gets it: from the last digest sent (the first: the schedule's previous time)
    to this one, a day or a week of local time. Digests missed while no worker ran are sent as one, late, covering
    up to the latest scheduled time passed; the next is scheduled after now."""
    at = _now(now)
    settings = ctx["settings"]
    async with job_session(ctx) as session:
        channels: Sequence[NotificationChannel] = (
            await session.scalars(
                select(NotificationChannel)
                .where(NotificationChannel.enabled.is_(True), NotificationChannel.next_digest_at <= at)
                .order_by(NotificationChannel.next_digest_at)
                .limit(100)
            )
        ).all()
        orgs = {
            o.id: o for o in (await session.scalars(select(Org).where(Org.id.in_({c.org_id for c in channels})))).all()
        }
        sent = 0
        for channel in channels:
            org, schedule, due = orgs[channel.org_id], _schedule(channel), channel.next_digest_at
            if schedule is None or due is None:
                continue
            # Late (no worker ran at its time): one digest up to the latest scheduled time that has passed, from
            # the last one sent, so successive digests still meet without a gap.
            tz = org.time_zone
            until = max(due, previous_digest_at(**schedule, time_zone=tz, before=at + timedelta(microseconds=1)))
            since = channel.last_digest_at or digest_window(**schedule, time_zone=tz, due=due)[0]
            following = next_digest_at(**schedule, time_zone=tz, after=at)
            if not await _claim_digest(session, channel, due, until, following):
                continue  # another sweep sends this one
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
            sent += 1
    return sent


async def _claim_digest(
    session: AsyncSession, channel: NotificationChannel, due: datetime, until: datetime, following: datetime
) -> bool:
    """Take this digest (its `next_digest_at` is still `due`) and schedule the following one, in one conditional
    UPDATE: two sweeps at once (two workers; or SQLite, without row locks) send it once."""
    claimed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]  # an UPDATE's result
        update(NotificationChannel)
        .where(NotificationChannel.id == channel.id, NotificationChannel.next_digest_at == due)
        .values(next_digest_at=following, last_digest_at=until)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    set_committed_value(channel, "next_digest_at", following)
    set_committed_value(channel, "last_digest_at", until)
    return True


@cron_job(name="notifications.sweep", every_s=60)
async def sweep(ctx: JobContext, now: str | None = None) -> dict[str, int]:
    """A minute's notification work, one step after another: release what quiet hours held, conclude the silences
    that ended, send the digests due. One cron, not three, so that in embedded mode it takes one of the API's
    database connections at a time (three at each tick slowed a large merge beside it by a second)."""
    return {
        "released": await release_held(ctx, now),
        "concluded": await silences_ended(ctx, now),
        "digests": await send_digests(ctx, now),
    }
