"""Delivering webhooks: each delivery is its own job; every attempt is logged; retries follow the schedule.

Every job carries the attempt number it is for (`attempt=`). Only the job for the delivery's next attempt
sends, so a manual replay or the sweeper never starts a second retry chain beside the scheduled one: whichever
job runs first sends, and the others find the number taken and step aside.

An attempt is three steps, so that no database connection or row lock waits on a receiver (DNS and the HTTP
call take up to ~25 s, and the worker's jobs share one connection pool):

1. claim, in a short transaction: the delivery's `attempts` becomes this attempt's number and `next_attempt_at`
   the end of a lease (the job's timeout), and what the send needs is read;
2. send, with no connection held: the SSRF check (DNS included) and the HTTP call;
3. record, in a second short transaction: the attempt's log row, the delivery's status, the next attempt. Only
   while the claim is still open (`attempts` is its number and no row logs that number): a late result of a
   claim that was taken over is dropped, never written over a newer attempt.

A claim whose result never comes (the worker died, the job timed out or failed in between) is open with its
lease over: the `webhooks.retry_due` sweep re-enqueues it like any overdue attempt, and the job it enqueues (the
next number) logs the lost attempt as one that got no answer, then makes the next one. At least once, as ever.
"""

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from prometheus_client import Counter
from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.jobs.context import JobContext, job_session
from shared.jobs.handles import DELIVER_WEBHOOK
from shared.jobs.registry import cron_job, job
from shared.settings import Settings
from shared.telemetry import JOB_REGISTRY
from shared.webhooks.channels.models import NotificationChannel
from shared.webhooks.channels.outbound import Outbound, outbound, send_outbound
from shared.webhooks.events import DELIVER_TIMEOUT_S, delivery_job_id, event_body
from shared.webhooks.models import (
    DeliveryStatus,
    OperatorEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from shared.webhooks.sender import Attempt, Outcome, next_delay, post_safely
from shared.webhooks.signing import headers as signed_headers

log = logging.getLogger(__name__)
_rng = random.Random()  # noqa: S311 - retry jitter, not cryptography

# A claim keeps the sweep away for its job's whole timeout (the worker caps it, never raises it): once the lease is
# over, the job that claimed is gone, whether it finished or not.
CLAIM_LEASE = timedelta(seconds=DELIVER_TIMEOUT_S)
# The sweep's margin: an attempt (or a claim's lease) this far past is taken to have lost its job.
OVERDUE = timedelta(seconds=60)
LOST = "no result was recorded: the worker stopped during this attempt"

# Served by the worker (WORKER_METRICS_PORT) and, in embedded mode, by the API's /metrics, like shared/telemetry.py.
ENDPOINTS_DISABLED = Counter(
    "kpi_webhook_endpoints_disabled",
    "Webhook endpoints disabled by delivery: gone (the receiver answered 410) or failing (for days)",
    ["reason"],
    registry=JOB_REGISTRY,
)
DisableCause = Literal["gone", "failing"]


# Where a delivery goes: a webhook endpoint or a notification channel (the same enabled/failing/disabled fields).
Destination = WebhookEndpoint | NotificationChannel


async def destination(session: AsyncSession, delivery: WebhookDelivery) -> Destination:
    if delivery.channel_id is not None:
        return await session.get_one(NotificationChannel, delivery.channel_id)
    return await session.get_one(WebhookEndpoint, delivery.endpoint_id)


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, plus the previous one while a rotation's overlap lasts."""
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        secrets.append(endpoint.previous_secret)
    return secrets


def disable(session: AsyncSession, endpoint: Destination, *, cause: DisableCause, reason: str, now: datetime) -> None:
    """Disable the endpoint or channel; record an operator event, log a warning and count it, so someone hears."""
    endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, reason, now
    if isinstance(endpoint, NotificationChannel):
        event = OperatorEvent(
            org_id=endpoint.org_id,
            kind="notification_channel_disabled",
            channel_id=endpoint.id,
            detail={"channel_id": str(endpoint.id), "name": endpoint.name, "reason": reason, "cause": cause},
        )
    else:
        event = OperatorEvent(
            org_id=endpoint.org_id,
            kind="webhook_endpoint_disabled",
            endpoint_id=endpoint.id,
            detail={"endpoint_id": str(endpoint.id), "url": endpoint.url, "reason": reason, "cause": cause},
        )
    session.add(event)
    log.warning(
        "%s %s disabled: %s",
        "notification channel" if isinstance(endpoint, NotificationChannel) else "webhook endpoint",
        endpoint.id,
        reason,
        extra={
            "org_id": str(endpoint.org_id),
            "channel_id" if isinstance(endpoint, NotificationChannel) else "endpoint_id": str(endpoint.id),
            "cause": cause,
        },
    )
    ENDPOINTS_DISABLED.labels(cause).inc()


@dataclass(frozen=True)
class Claim:
    """An attempt taken by this job, with everything its send needs (read in the claim's transaction)."""

    number: int
    at: datetime  # when it was claimed: the attempt's time in the log and in its signature
    url: str
    secrets: list[str]
    event_id: str
    body: bytes
    lost: int | None  # the number of an earlier claim this job found abandoned and logged
    outbound: Outbound | None = None  # a notification channel's message (then url, secrets and body are unused)


def _superseded(delivery: WebhookDelivery, attempt: int | None) -> bool:
    # attempt None: a job enqueued before jobs carried their number; it sends whatever attempt is next.
    return attempt is not None and delivery.attempts + 1 != attempt


async def _claim_open(session: AsyncSession, delivery: WebhookDelivery) -> bool:
    """The delivery's latest attempt is claimed but not logged: being sent now, or lost with its worker."""
    if delivery.attempts == 0:
        return False
    logged = await session.scalar(
        select(WebhookAttempt.id)
        .where(WebhookAttempt.delivery_id == delivery.id, WebhookAttempt.number == delivery.attempts)
        .limit(1)
    )
    return logged is None


def _conclude(
    session: AsyncSession,
    delivery: WebhookDelivery,
    endpoint: Destination,
    logged: WebhookAttempt,
    outcome: Outcome,
    *,
    retry_after: float | None,
    settings: Settings,
    now: datetime,
) -> tuple[Outcome | Literal["failed"], float | None]:
    """Log the attempt and set what follows it: the outcome, and the delay before the next attempt (None: none)."""
    session.add(logged)
    delivery.attempts, delivery.last_status_code = logged.number, logged.status_code
    if outcome == "delivered":
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.delivered, now, None
        endpoint.failing_since = None
        return outcome, None
    if outcome == "gone":
        delivery.status, delivery.next_attempt_at = DeliveryStatus.gone, None
        disable(session, endpoint, cause="gone", reason="the receiver answered 410 Gone", now=now)
        return outcome, None
    endpoint.failing_since = endpoint.failing_since or now
    if now - endpoint.failing_since > timedelta(days=settings.webhook_disable_after_days):
        days = settings.webhook_disable_after_days
        disable(session, endpoint, cause="failing", reason=f"every delivery failed for {days} days", now=now)
    delay = next_delay(logged.number, settings.webhook_retry_schedule_s, retry_after, _rng)
    if delay is None or not endpoint.enabled:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.failed, None
        if logged.outcome == "retry":
            logged.outcome = "failed"  # no attempt follows: the log must not promise one
            return "failed", None
        return outcome, None
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    return outcome, delay


def _log_lost(
    session: AsyncSession, delivery, endpoint, *, settings: Settings, now
) -> tuple[int, Outcome | Literal["failed"]]:
    """Log an abandoned claim as an attempt that got no answer (the receiver may have had it: at least once)."""
    # The claim's own time is not stored: its lease started it, unless a replay has moved `next_attempt_at` since.
    claimed_at = min(now, delivery.next_attempt_at - CLAIM_LEASE) if delivery.next_attempt_at else now
    lost = WebhookAttempt(
        org_id=delivery.org_id,
        delivery_id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        channel_id=delivery.channel_id,
        number=delivery.attempts,
        trigger="scheduled",
        attempted_at=claimed_at,
        status_code=None,
        duration_ms=0,
        outcome="retry",
        error=LOST,
        response_excerpt=None,
    )
    outcome, _ = _conclude(session, delivery, endpoint, lost, "retry", retry_after=None, settings=settings, now=now)
    return lost.number, outcome


async def _claim(ctx: JobContext, delivery_id: str, *, attempt: int | None) -> Claim | dict:
    """Step 1: take the attempt and read what its send needs, in one short transaction; or say why not."""
    settings = ctx["settings"]
    async with job_session(ctx) as session:
        # SKIP LOCKED: if another job is claiming or recording this delivery right now, this one steps aside.
        delivery = await session.scalar(
            select(WebhookDelivery)
            .where(WebhookDelivery.id == uuid.UUID(delivery_id))
            .with_for_update(skip_locked=True)
        )
        if delivery is None or delivery.status != DeliveryStatus.pending:
            return {"delivery_id": delivery_id, "skipped": True}
        if _superseded(delivery, attempt):  # another job (a replay, the sweeper) already made this attempt
            return {"delivery_id": delivery_id, "skipped": True, "superseded": True, "attempts": delivery.attempts}
        endpoint = await destination(session, delivery)
        now = datetime.now(UTC)
        lost = None
        if await _claim_open(session, delivery):
            if delivery.next_attempt_at is not None and delivery.next_attempt_at >= now - OVERDUE:
                # Being sent right now (a replay asked while it is): its result decides what follows.
                return {"delivery_id": delivery_id, "skipped": True, "in_flight": True, "attempts": delivery.attempts}
            lost, outcome = _log_lost(session, delivery, endpoint, settings=settings, now=now)
            if delivery.status != DeliveryStatus.pending:  # that was the last attempt the schedule allows
                return {"delivery_id": delivery_id, "attempt": lost, "outcome": outcome, "lost": lost}
            # Otherwise the next attempt is made now: it is long overdue.
        if not endpoint.enabled:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.skipped, None
            return {"delivery_id": delivery_id, "skipped": True}
        number = delivery.attempts + 1
        # On Postgres the row lock already makes this claim the only one; on SQLite (no row locks) the condition on
        # `attempts` does, for two jobs that both read the delivery before either claimed.
        claimed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]  # an UPDATE's result
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.attempts == number - 1)
            .values(attempts=number, next_attempt_at=now + CLAIM_LEASE)
        )
        if claimed.rowcount != 1:
            await session.rollback()
            return {"delivery_id": delivery_id, "skipped": True, "superseded": True}
        event = await session.get_one(WebhookEvent, delivery.event_id)
        if isinstance(endpoint, NotificationChannel):
            return Claim(number, now, "", [], event.id, b"", lost, outbound(endpoint, event))
        return Claim(number, now, endpoint.url, signing_secrets(endpoint, now), event.id, event_body(event), lost)


async def _send(claim: Claim, settings: Settings) -> tuple[Attempt, bool]:
    """Step 2: the SSRF check (DNS included) and the HTTP call, with no database connection held; True if refused."""
    if claim.outbound is not None:
        return await send_outbound(claim.outbound, settings)
    # Same webhook-id and body on every attempt, but signed at the attempt's own time: receivers refuse a
    # webhook-timestamp more than 5 minutes old, and a retry hours later is no replayed capture.
    signed = signed_headers(claim.secrets, claim.event_id, int(claim.at.timestamp()), claim.body)
    return await post_safely(claim.url, signed, claim.body, settings)


async def _record(
    ctx: JobContext, delivery_id: str, claim: Claim, sent: Attempt, *, refused: bool, trigger: str
) -> dict:
    """Step 3: log the attempt and schedule what follows, in a second short transaction, if the claim is still open."""
    settings = ctx["settings"]
    number = claim.number
    result = {"delivery_id": delivery_id, "attempt": number, "outcome": sent.outcome, "status_code": sent.status_code}
    if claim.lost is not None:
        result["lost"] = claim.lost
    async with job_session(ctx) as session:
        # Waits for a claim or record of this delivery in progress. (SQLite has no row locks: there a takeover could
        # interleave with this check, but only for a result later than the job's timeout, which cancels the job.)
        delivery = await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.id == uuid.UUID(delivery_id)).with_for_update()
        )
        if delivery is None or delivery.attempts != number or not await _claim_open(session, delivery):
            # Taken over after its lease ran out (the attempt is logged as lost), or the endpoint was deleted.
            log.warning(
                "webhook delivery %s: attempt %d finished after its claim was given up; not logged", delivery_id, number
            )
            return {**result, "discarded": True}
        endpoint = await destination(session, delivery)
        logged = WebhookAttempt(
            org_id=delivery.org_id,
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            channel_id=delivery.channel_id,
            number=number,
            trigger=trigger,
            attempted_at=claim.at,
            status_code=sent.status_code,
            duration_ms=int(sent.duration_ms),
            outcome="refused" if refused else sent.outcome,
            error=sent.error,
            response_excerpt=sent.response_excerpt,
        )
        result["outcome"], delay = _conclude(
            session,
            delivery,
            endpoint,
            logged,
            sent.outcome,
            retry_after=sent.retry_after_s,
            settings=settings,
            now=datetime.now(UTC),
        )
        if delay is not None:
            DELIVER_WEBHOOK.defer(
                session,
                job_id=delivery_job_id(delivery.id, number + 1),
                defer_s=delay,
                delivery_id=delivery_id,
                attempt=number + 1,
            )
    return result


@job(DELIVER_WEBHOOK, max_tries=1, timeout_s=DELIVER_TIMEOUT_S)
async def deliver(ctx: JobContext, *, delivery_id: str, trigger: str = "scheduled", attempt: int | None = None) -> dict:
    """One attempt of one delivery (the `attempt`-th); schedules the next attempt itself when it must retry."""
    claim = await _claim(ctx, delivery_id, attempt=attempt)
    if not isinstance(claim, Claim):
        return claim
    sent, refused = await _send(claim, ctx["settings"])
    return await _record(ctx, delivery_id, claim, sent, refused=refused, trigger=trigger)


@cron_job(name="webhooks.retry_due", every_s=60)
async def retry_due(ctx: JobContext) -> int:
    """Enqueue deliveries whose next attempt is overdue by a minute: their deferred job was lost, or the job that
    claimed the attempt died before logging it (a claim's lease is its `next_attempt_at`)."""
    overdue = datetime.now(UTC) - OVERDUE
    async with job_session(ctx) as session:
        due = (
            await session.execute(
                select(WebhookDelivery.id, WebhookDelivery.attempts)
                .where(WebhookDelivery.status == DeliveryStatus.pending, WebhookDelivery.next_attempt_at < overdue)
                .limit(1000)
            )
        ).all()
    for delivery_id, attempts in due:
        await DELIVER_WEBHOOK.enqueue(
            ctx["queue"],
            job_id=delivery_job_id(delivery_id, attempts + 1, ":swept"),
            delivery_id=str(delivery_id),
            attempt=attempts + 1,
        )
    return len(due)
