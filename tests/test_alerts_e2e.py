"""Data moves a KPI off target: one signed webhook arrives; data brings it back: kpi.recovered. Deliveries
retry until delivered, 410 disables the endpoint, a replay keeps the webhook-id (real HTTP receiver)."""

import asyncio
import json
from datetime import timedelta

from standardwebhooks.webhooks import Webhook

from shared.jobs.context import job_session
from shared.jobs.handles import EVALUATE_KPIS
from shared.webhooks.events import emit
from shared.webhooks.models import EventType, WebhookEvent
from tests.ingest_support import point, push_and_wait
from tests.receiver import running_receiver

DAY = "2026-11-20"


async def subscribe(client, headers, url, **filters) -> dict:
    r = await client.post("/v1/webhook-endpoints", json={"url": url, **filters}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def delivery_log(client, headers, endpoint_id: str, count: int) -> list[dict]:
    """The endpoint's delivery log once it holds `count` attempts (the receiver hears before the log commits)."""
    for _ in range(400):
        items = (await client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=headers)).json()["items"]
        if len(items) >= count:
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"the log never reached {count} attempts: {items}")


async def cpa_with_target(client, headers) -> str:
    kpi = await client.post(
        "/v1/kpis",
        json={
            "name": "CPA",
            "category": "output",
            "formula": "spend / conversions",
            "unit": "currency",
            "direction": "lower_is_better",
        },
        headers=headers,
    )
    assert kpi.status_code == 201, kpi.text
    kpi_id = kpi.json()["id"]
    target = await client.post(
        f"/v1/kpis/{kpi_id}/targets",
        json={
            "period": "2026-11",
            "target_value": "10",
            "threshold_mode": "absolute",
            "warning": "12",
            "critical": "15",
            "pacing": "none",
        },
        headers=headers,
    )
    assert target.status_code == 201, target.text
    return kpi_id


async def test_off_track_then_recovered_arrive_signed_once_each(client, keys):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    async with running_receiver() as receiver:
        endpoint = await subscribe(client, admin, receiver.url, event_types=["kpi.off_track", "kpi.recovered"])
        kpi_id = await cpa_with_target(client, admin)
        # CPA = 200 / 10 = 20: past the critical level 15.
        await push_and_wait(client, ingest, [point("spend", 200, DAY), point("conversions", 10, DAY)])
        [off] = await receiver.wait_for(1)
        verified = Webhook(endpoint["secret"]).verify(off.body, off.headers)
        assert verified["type"] == "kpi.off_track"
        data = verified["data"]
        assert data["kpi"]["id"] == kpi_id and data["evaluation"]["value"].startswith("20")
        assert data["alert"]["severity"] == "critical" and data["dashboard_url"].endswith(f"/dashboard/kpis/{kpi_id}")
        assert off.headers["webhook-id"].startswith("msg_")

        # More conversions the same day: CPA = 200 / 25 = 8, back on track.
        await push_and_wait(client, ingest, [point("conversions", 25, DAY)])
        requests = await receiver.wait_for(2)
        recovered = Webhook(endpoint["secret"]).verify(requests[1].body, requests[1].headers)
        assert recovered["type"] == "kpi.recovered"
        assert len(receiver.requests) == 2, "exactly one webhook per transition"

    alerts = (await client.get(f"/v1/alerts?kpi_id={kpi_id}", headers=keys.headers("viewer"))).json()["items"]
    assert [(a["status"], a["severity"]) for a in alerts] == [("resolved", "critical")]
    evaluations = (
        await client.get(f"/v1/kpis/{kpi_id}/evaluations?transitions_only=true", headers=keys.headers("viewer"))
    ).json()["items"]
    assert [e["transition_to"] for e in evaluations][-2:] == ["off_track", "on_track"]
    assert evaluations[-1]["transition_from"] == "off_track"
    assert all(e["transition_reason"] for e in evaluations)


async def test_a_new_target_waiting_for_its_first_data_alerts_nobody(client, keys, state, org, other_org):
    admin, viewer = keys.headers("admin"), keys.headers("viewer")
    async with running_receiver() as receiver:
        await subscribe(client, admin, receiver.url)  # every event type, kpi.no_data included
        kpi_id = await cpa_with_target(client, admin)
        # Another organisation's data is not this one's first data (evaluation jobs read across orgs).
        await push_and_wait(client, other_org.headers, [point("spend", 50, DAY), point("conversions", 10, DAY)])
        # `since` the target's data day: its period (a fixed month) may have ended by the day the suite runs.
        await EVALUATE_KPIS.run_and_wait(
            state.queue, timeout_s=20, org_id=str(org.id), kpi_ids=[kpi_id], since=DAY, trigger="schedule"
        )
        evaluations = (await client.get(f"/v1/kpis/{kpi_id}/evaluations", headers=viewer)).json()["items"]
        assert evaluations and {(e["status"], e["transition_from"]) for e in evaluations} == {("no_data", None)}
        assert (await client.get(f"/v1/alerts?kpi_id={kpi_id}", headers=viewer)).json()["items"] == []

        # Its first data is off target: now the alert opens and the subscriber hears of it.
        await push_and_wait(client, keys.headers("ingest"), [point("spend", 200, DAY), point("conversions", 10, DAY)])
        [off] = await receiver.wait_for(1)
        assert off.headers["webhook-id"] and json.loads(off.body)["type"] == "kpi.off_track"
    alerts = (await client.get(f"/v1/alerts?kpi_id={kpi_id}", headers=viewer)).json()["items"]
    assert [(a["status"], a["severity"]) for a in alerts] == [("open", "critical")]


async def _emit(state, org_id, data) -> str | None:
    """Emit an event as a job would; None when no enabled endpoint wants it."""
    ctx = {"db": state.db, "queue": state.queue, "settings": state.settings}
    async with job_session(ctx) as session:
        event = await emit(session, org_id=org_id, type_=EventType.ingest_batch_failed, data=data)
    return event.id if event else None


async def _age_event(state, event_id: str, by: timedelta) -> None:
    """Move an event back in time, as if it had been emitted `by` ago."""
    ctx = {"db": state.db, "queue": state.queue, "settings": state.settings}
    async with job_session(ctx) as session:
        event = await session.get(WebhookEvent, event_id)
        event.timestamp -= int(by.total_seconds())
        event.created_at -= by


async def test_a_failing_receiver_gets_retries_until_it_answers(client, keys, state, org):
    admin = keys.headers("admin")
    async with running_receiver() as receiver:
        receiver.script = [500, 500, 500]
        endpoint = await subscribe(client, admin, receiver.url)
        event_id = await _emit(state, org.id, {"batch": {"id": "b1"}})
        requests = await receiver.wait_for(4)
        assert {r.headers["webhook-id"] for r in requests} == {event_id}, "one webhook-id across retries"
        for request in requests:  # every attempt passes the receiver's check, signature and timestamp
            assert Webhook(endpoint["secret"]).verify(request.body, request.headers)["data"] == {"batch": {"id": "b1"}}
        log = await delivery_log(client, admin, endpoint["id"], 4)
        assert [(a["number"], a["status_code"], a["outcome"]) for a in log] == [
            (1, 500, "retry"),
            (2, 500, "retry"),
            (3, 500, "retry"),
            (4, 200, "delivered"),
        ]
        assert log[-1]["delivery_status"] == "delivered" and log[0]["response_excerpt"] == "answer 500"

        # The replay comes an hour after the event: it keeps the webhook-id and body, and is signed now,
        # so the receiver's 5-minute timestamp check still passes.
        await _age_event(state, event_id, timedelta(hours=1))
        replay = await client.post(f"/v1/webhook-deliveries/{log[0]['delivery_id']}/retry", headers=admin)
        assert replay.status_code == 202
        requests = await receiver.wait_for(5)
        assert requests[4].headers["webhook-id"] == event_id
        assert requests[4].body == requests[0].body
        replayed = Webhook(endpoint["secret"]).verify(requests[4].body, requests[4].headers)
        assert replayed["type"] == "ingest.batch_failed"
        log = await delivery_log(client, admin, endpoint["id"], 5)
        assert log[-1]["trigger"] == "manual"


async def test_410_disables_the_endpoint(client, keys, state, org):
    admin = keys.headers("admin")
    async with running_receiver() as receiver:
        receiver.script = [410]
        endpoint = await subscribe(client, admin, receiver.url)
        await _emit(state, org.id, {"batch": {"id": "b2"}})
        await receiver.wait_for(1)
        for _ in range(100):
            current = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=admin)).json()
            if not current["enabled"]:
                break
            await asyncio.sleep(0.05)
        assert current["enabled"] is False and "410" in current["disabled_reason"]
        events = (await client.get(f"/v1/operator-events?endpoint_id={endpoint['id']}", headers=admin)).json()
        assert [(e["kind"], e["detail"]["cause"]) for e in events["items"]] == [("webhook_endpoint_disabled", "gone")]
        assert await _emit(state, org.id, {"batch": {"id": "b3"}}) is None, "a disabled endpoint is not sent to"
        await asyncio.sleep(0.5)
        assert len(receiver.requests) == 1


async def test_webhook_urls_pointing_inside_are_refused(client, keys, settings):
    admin = keys.headers("admin")
    from services.api.main import create_app
    from tests.conftest import client_for

    strict = create_app(settings.model_copy(update={"webhook_allowed_cidrs": []}))
    async with client_for(strict) as c:
        for url in (
            "http://127.0.0.1/x",
            "http://10.0.0.1/x",
            "http://169.254.169.254/latest",
            "http://[::1]/x",
            "http://localhost/x",
            "ftp://example.com/x",
        ):
            r = await c.post("/v1/webhook-endpoints", json={"url": url}, headers=admin)
            assert r.status_code == 422, (url, r.text)
    assert (
        await client.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/x"}, headers=admin)
    ).status_code == 201


async def test_only_admins_manage_webhooks_and_tenants_are_apart(client, keys, other_org):
    admin = keys.headers("admin")
    endpoint = await subscribe(client, admin, "http://127.0.0.1:9/x")
    assert "secret" in endpoint and endpoint["secret"].startswith("whsec_")
    listed = (await client.get("/v1/webhook-endpoints", headers=admin)).json()["items"]
    assert "secret" not in listed[0]
    for role in ("editor", "viewer", "ingest"):
        assert (await client.get("/v1/webhook-endpoints", headers=keys.headers(role))).status_code == 403
    assert (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=other_org.headers)).status_code == 404
    rotated = (await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=admin)).json()
    assert rotated["secret"] != endpoint["secret"] and rotated["secret_rotating_until"] is not None
