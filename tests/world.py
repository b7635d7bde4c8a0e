"""One organisation with a real object behind every kind of id a path can name, for the route matrix and the fuzzer.

Everything goes through the public API (tests/dashboard_support.seed: department, objective, KPIs with targets,
a month of data, a plan with a budget, the alert the evaluation opens), except a webhook delivery, which needs a
sent event: that row is written straight to the database (no receiver, no waiting on retries).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.db.scoping import bind_org
from shared.webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEvent
from tests.conftest import OrgHandle, make_key
from tests.dashboard_support import MONTH_START, seed, wait_for_alert

TEMPLATE_KEY = "cpa"  # a standard KPI template: shared by every organisation, so not an org-owned id
SOURCE = "meta"  # an ingest source: a fixed name, not an org-owned id
CUSTOM_METRIC = "demo_requests"  # a metric of the organisation's own (the standard ones are everyone's)


@dataclass(frozen=True)
class World:
    """The ids of one organisation's objects, by the path parameter that names them."""

    params: dict[str, str]
    spare_key: str  # a viewer key nobody uses: DELETE /v1/api-keys/{key_id} revokes this one

    def fill(self, path: str) -> str:
        """The path with every `{param}` replaced by this organisation's object of that kind."""
        values = dict(self.params)
        if path.startswith("/v1/kpi-templates/"):
            values["key"] = TEMPLATE_KEY
        return path.format(**values)


async def _post(client, path: str, body: dict, headers) -> dict:
    r = await client.post(path, json=body, headers=headers)
    assert r.status_code in (200, 201, 202), f"{path}: {r.status_code} {r.text}"
    return r.json()


async def _first(client, path: str, headers) -> dict:
    r = await client.get(path, headers=headers)
    assert r.status_code == 200, f"{path}: {r.text}"
    return r.json()["items"][0]


async def build_world(client, state, org: OrgHandle) -> World:
    """Seed `org` and return an id for every path parameter of the API."""
    h = org.headers
    seeded = await seed(client, h)
    kpi_id = seeded.kpis["CPA"]
    alert = await wait_for_alert(client, h, kpi_id)
    target = await _first(client, f"/v1/kpis/{kpi_id}/targets", h)
    team = await _first(client, "/v1/teams", h)
    position = await _first(client, "/v1/positions", h)
    member = await _first(client, "/v1/members", h)
    lines = (await client.get(f"/v1/plans/{seeded.plan_id}/budget/lines", headers=h)).json()["items"]
    batch = await _first(client, "/v1/ingest/batches", h)
    goal = await _first(client, "/v1/business-goals", h)

    workflow = await _post(
        client,
        "/v1/workflows",
        {"name": "Campaign launch", "owner_team_id": team["id"], "steps": [{"name": "Brief"}, {"name": "Launch"}]},
        h,
    )
    segment = await _post(client, "/v1/segments", {"name": "Mid-size retailers"}, h)
    competitor = await _post(client, "/v1/competitors", {"name": "ShopFast"}, h)
    start = MONTH_START.isoformat()
    campaign = await _post(
        client,
        f"/v1/plans/{seeded.plan_id}/campaigns",
        {"name": "Spring sale", "channel": "meta", "start_date": start, "end_date": start},
        h,
    )
    await _post(client, "/v1/metrics", {"key": CUSTOM_METRIC, "name": "Demo requests", "unit": "count"}, h)
    # Nothing listens on port 9 of loopback (allowed by the tests' SSRF setting): sends fail fast.
    endpoint = await _post(client, "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/hook"}, h)
    channel = await _post(
        client, "/v1/notification-channels", {"name": "#alerts", "kind": "slack", "url": "http://127.0.0.1:9/hook"}, h
    )
    silence = await _post(client, "/v1/silences", {"ends_at": _in_days(30), "comment": "quiet"}, h)
    spare_key = await make_key(client, org, "viewer", "spare")
    spare_key_id = next(
        k["id"] for k in (await client.get("/v1/api-keys", headers=h)).json()["items"] if k["name"] == "spare"
    )

    return World(
        params={
            "key_id": spare_key_id,
            "team_id": team["id"],
            "position_id": position["id"],
            "member_id": member["id"],
            "workflow_id": workflow["id"],
            "step_id": workflow["steps"][0]["id"],
            "goal_id": goal["id"],
            "objective_id": seeded.objective_id,
            "segment_id": segment["id"],
            "competitor_id": competitor["id"],
            "plan_id": seeded.plan_id,
            "campaign_id": campaign["id"],
            "line_id": lines[0]["id"],
            "other_line_id": lines[1]["id"],  # no path names two lines; a reallocation's body does
            "key": CUSTOM_METRIC,
            "kpi_id": kpi_id,
            "target_id": target["id"],
            "batch_id": batch["id"],
            "source": SOURCE,
            # an exchange rate is named by its pair and day, not by an id
            "from_currency": "USD",
            "to_currency": "VND",
            "day": "2026-11-01",
            "alert_id": alert["id"],
            "endpoint_id": endpoint["id"],
            "channel_id": channel["id"],
            "silence_id": silence["id"],
            "silence_end": _in_days(30),  # a silence lasts at most 90 days from now
            "delivery_id": await _failed_delivery(state, org.id, uuid.UUID(endpoint["id"])),
        },
        spare_key=spare_key,
    )


def _in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def _failed_delivery(state, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> str:
    """A delivery whose schedule is exhausted (so no cron picks it up; a manual retry may)."""
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        event = WebhookEvent(
            id=f"msg_{uuid.uuid4().hex}",
            type=EventType.kpi_off_track,
            payload={"type": "kpi.off_track", "data": {}},
            timestamp=int(datetime.now(UTC).timestamp()),
        )
        session.add(event)
        await session.flush()
        delivery = WebhookDelivery(
            endpoint_id=endpoint_id, event_id=event.id, status=DeliveryStatus.failed, attempts=5, last_status_code=500
        )
        session.add(delivery)
        await session.commit()
        return str(delivery.id)
