"""A delivery's life: one retry chain whatever replays and sweeps happen, an endpoint disabled for good is
logged, counted and listed for operators, and KPI filters narrow KPI events only (real HTTP receiver, real
worker on Postgres)."""

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from shared.jobs.context import job_session
from shared.jobs.handles import DELIVER_WEBHOOK
from shared.telemetry import JOB_REGISTRY
from shared.webhooks.delivery import disable
from shared.webhooks.events import _wants, emit
from shared.webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint
from tests.receiver import running_receiver
from tests.test_alerts_e2e import delivery_log, subscribe

KPI = uuid.UUID("01a22057-e538-71c3-bf3b-0dc78b9d9dea")


def job_ctx(state) -> dict:
    return {"db": state.db, "queue": state.queue, "settings": state.settings}


async def emit_event(state, org_id, type_=EventType.ingest_batch_failed, **about) -> str | None:
    """Emit an event as a job would; its id, or None when no enabled endpoint wants it."""
    async with job_session(job_ctx(state)) as session:
        event = await emit(session, org_id=org_id, type_=type_, data={"batch": {"id": "b1"}}, **about)
    return event.id if event else None


async def retry_waiting(state, delivery_id: str) -> None:
    """Put a delivery back to pending, as if its next attempt were scheduled an hour from now."""
    async with job_session(job_ctx(state)) as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == uuid.UUID(delivery_id))
            .values(status=DeliveryStatus.pending, next_attempt_at=datetime.now(UTC) + timedelta(hours=1))
        )


async def test_a_job_for_an_attempt_already_made_steps_aside(client, keys, state, org):
    admin = keys.headers("admin")
    async with running_receiver() as receiver:
        endpoint = await subscribe(client, admin, receiver.url)
        event_id = await emit_event(state, org.id)
        await receiver.wait_for(1)
        [first] = await delivery_log(client, admin, endpoint["id"], 1)
        # Attempt 1 was made; attempt 2 is waiting. A job still carrying attempt 1 (the original chain after a
        # replay or a sweep took over) sends nothing.
        delivery_id = first["delivery_id"]
        await retry_waiting(state, delivery_id)
        stale = await DELIVER_WEBHOOK.run_and_wait(state.queue, timeout_s=20, delivery_id=delivery_id, attempt=1)
        assert stale["skipped"] and stale["superseded"]
        assert len(receiver.requests) == 1

        sent = await DELIVER_WEBHOOK.run_and_wait(state.queue, timeout_s=20, delivery_id=delivery_id, attempt=2)
        assert (sent["attempt"], sent["outcome"]) == (2, "delivered")
        assert len(receiver.requests) == 2 and receiver.requests[1].headers["webhook-id"] == event_id
        assert Webhook(endpoint["secret"]).verify(receiver.requests[1].body, receiver.requests[1].headers)

        # A job enqueued before jobs carried their attempt number still sends the next attempt.
        await retry_waiting(state, delivery_id)
        legacy = await DELIVER_WEBHOOK.run_and_wait(state.queue, timeout_s=20, delivery_id=delivery_id)
        assert legacy["attempt"] == 3 and len(receiver.requests) == 3


async def test_a_replay_while_a_retry_waits_sends_that_attempt_once(client, keys, state, org):
    admin = keys.headers("admin")
    async with running_receiver() as receiver:
        endpoint = await subscribe(client, admin, receiver.url)
        await emit_event(state, org.id)
        [first] = await delivery_log(client, admin, endpoint["id"], 1)
        await retry_waiting(state, first["delivery_id"])

        replay = await client.post(f"/v1/webhook-deliveries/{first['delivery_id']}/retry", headers=admin)
        assert replay.status_code == 202
        log = await delivery_log(client, admin, endpoint["id"], 2)
        assert [(a["number"], a["trigger"]) for a in log] == [(1, "scheduled"), (2, "manual")]
        # The scheduled job for attempt 2 wakes up after the replay made that attempt: it steps aside.
        delivery_id = first["delivery_id"]
        await retry_waiting(state, delivery_id)
        late = await DELIVER_WEBHOOK.run_and_wait(state.queue, timeout_s=20, delivery_id=delivery_id, attempt=2)
        assert late["skipped"] and len(receiver.requests) == 2


async def test_the_last_attempt_of_a_used_up_schedule_reads_failed(client, keys, state, org):
    admin = keys.headers("admin")
    attempts = len(state.settings.webhook_retry_schedule_s) + 1
    async with running_receiver() as receiver:
        receiver.script = [500] * attempts
        endpoint = await subscribe(client, admin, receiver.url)
        await emit_event(state, org.id)
        log = await delivery_log(client, admin, endpoint["id"], attempts)

    assert [a["outcome"] for a in log] == ["retry"] * (attempts - 1) + ["failed"], "no retry follows the last"
    assert {a["delivery_status"] for a in log} == {"failed"}


def _disabled_count(cause: str) -> float:
    return JOB_REGISTRY.get_sample_value("kpi_webhook_endpoints_disabled_total", {"reason": cause}) or 0.0


async def test_a_disabled_endpoint_is_logged_counted_and_listed_for_operators(
    client, keys, state, org, other_org, caplog
):
    admin = keys.headers("admin")
    endpoint = await subscribe(client, admin, "http://127.0.0.1:9/x")
    before = _disabled_count("failing")
    with caplog.at_level(logging.WARNING, logger="shared.webhooks.delivery"):
        async with job_session(job_ctx(state)) as session:
            row = await session.get(WebhookEndpoint, uuid.UUID(endpoint["id"]))
            disable(session, row, cause="failing", reason="every delivery failed for 5 days", now=datetime.now(UTC))

    [warning] = [r for r in caplog.records if r.name == "shared.webhooks.delivery"]
    assert warning.levelno == logging.WARNING
    assert endpoint["id"] in warning.getMessage() and "every delivery failed for 5 days" in warning.getMessage()
    assert _disabled_count("failing") == before + 1
    metrics = (await client.get("/metrics")).text
    assert 'kpi_webhook_endpoints_disabled_total{reason="failing"}' in metrics

    current = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=admin)).json()
    assert (current["enabled"], current["disabled_reason"]) == (False, "every delivery failed for 5 days")
    events = await client.get("/v1/operator-events?kind=webhook_endpoint_disabled", headers=admin)
    assert events.status_code == 200, events.text
    [event] = events.json()["items"]
    assert event["endpoint_id"] == endpoint["id"]
    assert event["detail"]["cause"] == "failing" and event["detail"]["url"] == "http://127.0.0.1:9/x"
    by_endpoint = await client.get(f"/v1/operator-events?endpoint_id={endpoint['id']}", headers=admin)
    assert [e["id"] for e in by_endpoint.json()["items"]] == [event["id"]]

    assert (await client.get("/v1/operator-events", headers=other_org.headers)).json()["items"] == []
    assert (await client.get("/v1/operator-events", headers=keys.headers("viewer"))).status_code == 403
    for bad in ("cursor=nonsense", "endpoint_id=42", "limit=0"):
        r = await client.get(f"/v1/operator-events?{bad}", headers=admin)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), bad


async def test_kpi_filters_narrow_kpi_events_only(client, keys, state, org):
    admin = keys.headers("admin")
    # A KPI filter names the organisation's own KPIs (another id is a 422: tests/test_route_matrix.py).
    kpi_body = {
        "name": "CPA",
        "category": "impact",
        "formula": "spend",
        "unit": "currency",
        "direction": "lower_is_better",
    }
    r = await client.post("/v1/kpis", json=kpi_body, headers=admin)
    assert r.status_code == 201, r.text
    kpi = uuid.UUID(r.json()["id"])
    async with running_receiver() as receiver:
        await subscribe(client, admin, receiver.url, kpi_ids=[str(kpi)], categories=["impact"])
        # A batch failure concerns no KPI: the endpoint gets it despite its KPI filters.
        assert await emit_event(state, org.id) is not None
        [request] = await receiver.wait_for(1)
        assert request.headers["webhook-id"]
        other_kpi = uuid.uuid4()
        assert await emit_event(state, org.id, EventType.kpi_off_track, kpi_id=other_kpi, category="impact") is None
        assert await emit_event(state, org.id, EventType.kpi_off_track, kpi_id=kpi, category="output") is None
        assert await emit_event(state, org.id, EventType.kpi_off_track, kpi_id=kpi, category="impact") is not None
        await receiver.wait_for(2)


def _endpoint(**filters) -> WebhookEndpoint:
    return WebhookEndpoint(**{"event_types": [], "kpi_ids": [], "categories": [], **filters})


@pytest.mark.parametrize(
    ("filters", "type_", "kpi_id", "category", "wanted"),
    [
        ({}, EventType.budget_overspend, None, None, True),
        ({"kpi_ids": [str(KPI)]}, EventType.budget_overspend, None, None, True),
        ({"categories": ["impact"]}, EventType.ingest_batch_failed, None, None, True),
        ({"event_types": ["budget.overspend"], "kpi_ids": [str(KPI)]}, EventType.budget_overspend, None, None, True),
        ({"event_types": ["kpi.at_risk"], "kpi_ids": [str(KPI)]}, EventType.budget_overspend, None, None, False),
        ({"kpi_ids": [str(KPI)]}, EventType.kpi_at_risk, KPI, "impact", True),
        ({"kpi_ids": [str(KPI)]}, EventType.kpi_no_data, uuid.uuid4(), "impact", False),
        ({"categories": ["impact"]}, EventType.kpi_recovered, KPI, "output", False),
        ({"categories": ["impact"]}, EventType.kpi_recovered, KPI, "impact", True),
    ],
)
def test_an_endpoint_wants_an_event(filters, type_, kpi_id, category, wanted):
    assert _wants(_endpoint(**filters), type_, kpi_id, category) is wanted
