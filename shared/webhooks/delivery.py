"""Delivering webhooks: each delivery is its own job; every attempt is logged; retries follow the schedule.

Every job carries the attempt number it is for (`attempt=`). Only the job for the delivery's next attempt
sends, so a manual replay or the sweeper never starts a second retry chain beside the scheduled one: whichever
job runs first sends, and the others find the number taken and step aside.
"""

import logging
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

import httpx
from prometheus_client import Counter
from sqlalchemy import select

from shared.jobs.context import job_session
from shared.jobs.handles import DELIVER_WEBHOOK
from shared.jobs.registry import cron_job, job
from shared.telemetry import JOB_REGISTRY
from shared.webhooks.events import delivery_job_id, event_body
from shared.webhooks.models import (
    DeliveryStatus,
    OperatorEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from shared.webhooks.sender import next_delay, send
from shared.webhooks.signing import headers as signed_headers
from shared.webhooks.ssrf import UnsafeUrl, resolve_safe

log = logging.getLogger(__name__)
_rng = random.Random()  # noqa: S311 - retry jitter, not cryptography

# Served by the worker (WORKER_METRICS_PORT) and, in embedded mode, by the API's /metrics, like shared/telemetry.py.
ENDPOINTS_DISABLED = Counter(
    "kpi_webhook_endpoints_disabled",
    "Webhook endpoints disabled by delivery: gone (the receiver answered 410) or failing (for days)",
    ["reason"],
    registry=JOB_REGISTRY,
)
DisableCause = Literal["gone", "failing"]


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, plus the previous one while a rotation's overlap lasts."""
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        secrets.append(endpoint.previous_secret)
    return secrets


def disable(session, endpoint: WebhookEndpoint, *, cause: DisableCause, reason: str, now: datetime) -> None:
    """Disable the endpoint; record an operator event, log a warning and count it, so someone hears of it."""
    endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, reason, now
    session.add(
        OperatorEvent(
            org_id=endpoint.org_id,
            kind="webhook_endpoint_disabled",
            endpoint_id=endpoint.id,
            detail={"endpoint_id": str(endpoint.id), "url": endpoint.url, "reason": reason, "cause": cause},
        )
    )
    log.warning(
        "webhook endpoint %s disabled: %s",
        endpoint.id,
        reason,
        extra={"org_id": str(endpoint.org_id), "endpoint_id": str(endpoint.id), "cause": cause},
    )
    ENDPOINTS_DISABLED.labels(cause).inc()


def _superseded(delivery: WebhookDelivery, attempt: int | None) -> bool:
    # attempt None: a job enqueued before jobs carried their number; it sends whatever attempt is next.
    return attempt is not None and delivery.attempts + 1 != attempt


@job(DELIVER_WEBHOOK, max_tries=1, timeout_s=60)
async def deliver(ctx, *, delivery_id: str, trigger: str = "scheduled", attempt: int | None = None) -> dict:
    """One attempt of one delivery (the `attempt`-th); schedules the next attempt itself when it must retry."""
    settings = ctx["settings"]
    async with job_session(ctx) as session:
        # SKIP LOCKED: if another worker is sending this delivery right now, this job steps aside.
        delivery = await session.scalar(
            select(WebhookDelivery)
            .where(WebhookDelivery.id == uuid.UUID(delivery_id))
            .with_for_update(skip_locked=True)
        )
        if delivery is None or delivery.status != DeliveryStatus.pending:
            return {"delivery_id": delivery_id, "skipped": True}
        if _superseded(delivery, attempt):  # another job (a replay, the sweeper) already made this attempt
            return {"delivery_id": delivery_id, "skipped": True, "superseded": True, "attempts": delivery.attempts}
        endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
        event = await session.get(WebhookEvent, delivery.event_id)
        now = datetime.now(UTC)
        if not endpoint.enabled:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.skipped, None
            return {"delivery_id": delivery_id, "skipped": True}
        number = delivery.attempts + 1
        body = event_body(event)
        refused = None
        try:
            target = await resolve_safe(endpoint.url, allowed_cidrs=settings.webhook_allowed_cidrs)
        except UnsafeUrl as exc:  # checked again at delivery: DNS may now point somewhere it must not
            target, refused = None, str(exc)
        if target is None:
            outcome, status_code, duration, error, excerpt, retry_after = "retry", None, 0, refused, None, None
        else:
            # Same webhook-id and body on every attempt, but signed at the attempt's own time: receivers refuse a
            # webhook-timestamp more than 5 minutes old, and a retry hours later is no replayed capture.
            signed = signed_headers(signing_secrets(endpoint, now), event.id, int(now.timestamp()), body)
            async with httpx.AsyncClient(trust_env=False) as client:
                sent = await send(client, target, signed, body, timeout_s=settings.webhook_timeout_s)
            outcome, status_code = sent.outcome, sent.status_code
            duration, error, excerpt, retry_after = (
                sent.duration_ms,
                sent.error,
                sent.response_excerpt,
                sent.retry_after_s,
            )
        logged = WebhookAttempt(
            org_id=delivery.org_id,
            delivery_id=delivery.id,
            endpoint_id=endpoint.id,
            number=number,
            trigger=trigger,
            attempted_at=now,
            status_code=status_code,
            duration_ms=int(duration),
            outcome=outcome if target is not None else "refused",
            error=error,
            response_excerpt=excerpt,
        )
        session.add(logged)
        delivery.attempts, delivery.last_status_code = number, status_code
        if outcome == "delivered":
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.delivered, now, None
            endpoint.failing_since = None
        elif outcome == "gone":
            delivery.status, delivery.next_attempt_at = DeliveryStatus.gone, None
            disable(session, endpoint, cause="gone", reason="the receiver answered 410 Gone", now=now)
        else:
            endpoint.failing_since = endpoint.failing_since or now
            if now - endpoint.failing_since > timedelta(days=settings.webhook_disable_after_days):
                days = settings.webhook_disable_after_days
                disable(session, endpoint, cause="failing", reason=f"every delivery failed for {days} days", now=now)
            delay = next_delay(number, settings.webhook_retry_schedule_s, retry_after, _rng)
            if delay is None or not endpoint.enabled:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.failed, None
                if logged.outcome == "retry":
                    logged.outcome = outcome = "failed"  # no attempt follows: the log must not promise one
            else:
                delivery.next_attempt_at = now + timedelta(seconds=delay)
                DELIVER_WEBHOOK.defer(
                    session,
                    job_id=delivery_job_id(delivery.id, number + 1),
                    defer_s=delay,
                    delivery_id=delivery_id,
                    attempt=number + 1,
                )
        return {"delivery_id": delivery_id, "attempt": number, "outcome": outcome, "status_code": status_code}


@cron_job(name="webhooks.retry_due", every_s=60)
async def retry_due(ctx) -> int:
    """Enqueue deliveries whose next attempt is overdue by a minute (their deferred job was lost)."""
    overdue = datetime.now(UTC) - timedelta(seconds=60)
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
