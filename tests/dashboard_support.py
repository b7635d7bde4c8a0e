"""A seeded organisation for the dashboard tests: a department, an objective, six KPIs over the three
categories with targets for this month, a month of Meta data so far, a plan with a budget, and the alerts the
evaluation opens from that data (CPA goes off track). Everything goes through the public API."""

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.ingest_support import point, push_and_wait

TODAY = datetime.now(UTC).date()
MONTH_START = TODAY.replace(day=1)
MONTH = f"{TODAY:%Y-%m}"
DAYS = (TODAY - MONTH_START).days + 1
PER_DAY = {"spend": 200, "impressions": 10_000, "clicks": 130, "conversions": 6, "revenue": 1_800}


@dataclass(frozen=True)
class Seeded:
    kpis: dict[str, str]  # name -> id
    plan_id: str
    objective_id: str


async def _post(client, path, body, headers) -> dict:
    r = await client.post(path, json=body, headers=headers)
    assert r.status_code in (200, 201), f"{path}: {r.text}"
    return r.json()


KPIS = [
    # name, category, formula, unit, direction, target body
    (
        "Impressions",
        "input",
        "impressions",
        "count",
        "higher_is_better",
        {"target_value": "300000", "pacing": "linear"},
    ),
    ("Ad spend", "input", "spend", "currency", "lower_is_better", {"target_value": "7000", "pacing": "linear"}),
    (
        "CPA",
        "output",
        "spend / conversions",
        "currency",
        "lower_is_better",
        {"target_value": "20", "threshold_mode": "absolute", "warning": "25", "critical": "30", "pacing": "none"},
    ),
    ("CTR", "output", "clicks / impressions * 100", "percent", "higher_is_better", {"target_value": "1.5"}),
    ("Revenue", "impact", "revenue", "currency", "higher_is_better", {"target_value": "60000", "pacing": "linear"}),
    ("NPS", "impact", "nps_score", "score", "higher_is_better", {"target_value": "40", "pacing": "none"}),
]


async def seed(client, headers) -> Seeded:
    await client.put(
        "/v1/department",
        json={"name": "Marketing", "structure_type": "channel", "mission": "Grow online revenue profitably"},
        headers=headers,
    )
    root = await _post(client, "/v1/teams", {"name": "Marketing"}, headers)
    paid = await _post(client, "/v1/teams", {"name": "Paid media", "parent_id": root["id"]}, headers)
    await _post(client, "/v1/teams", {"name": "Content", "parent_id": root["id"]}, headers)
    head = await _post(client, "/v1/positions", {"title": "Head of marketing", "team_id": root["id"]}, headers)
    await _post(
        client, "/v1/members", {"name": "Ada Park", "email": "ada@example.com", "position_id": head["id"]}, headers
    )
    await _post(client, "/v1/positions", {"title": "Paid social specialist", "team_id": paid["id"]}, headers)

    goal = await _post(client, "/v1/business-goals", {"title": "Grow online revenue 30% next year"}, headers)
    objective = await _post(
        client,
        "/v1/objectives",
        {
            "statement": "Raise monthly online revenue from paid channels to 60,000",
            "business_goal_id": goal["id"],
            "unit": "EUR/month",
            "baseline_value": "48000",
            "target_value": "60000",
            "start_date": str(MONTH_START),
            "deadline": str(MONTH_START + timedelta(days=364)),
            "status": "active",
        },
        headers,
    )

    kpis = {}
    for name, category, formula, unit, direction, target in KPIS:
        body = {
            "name": name,
            "category": category,
            "formula": formula,
            "unit": unit,
            "direction": direction,
            "owner_team_id": paid["id"],
        }
        if name in ("Revenue", "CPA"):
            body["objectives"] = [{"objective_id": objective["id"], "weight": "1"}]
        kpi = await _post(client, "/v1/kpis", body, headers)
        await _post(client, f"/v1/kpis/{kpi['id']}/targets", {"period": MONTH, **target}, headers)
        kpis[name] = kpi["id"]

    plan = await _post(client, "/v1/plans", {"name": "Performance plan", "period_label": MONTH}, headers)
    await _post(client, f"/v1/plans/{plan['id']}/status", {"status": "approved"}, headers)
    r = await client.put(f"/v1/plans/{plan['id']}/budget", json={"total": "9000", "currency": "USD"}, headers=headers)
    assert r.status_code == 200, r.text
    lines = (
        # Meta spends 200 a day against 150 a day planned: overspent on any day of the month.
        {"name": "Meta ads", "channel": "meta", "planned_amount": str(150 * DAYS)},
        {"name": "Google Ads", "channel": "google_ads", "planned_amount": "2500", "actual_amount": "900"},
        {"name": "Content production", "team_id": paid["id"], "planned_amount": "1000", "actual_amount": "350"},
    )
    for line in lines:
        await _post(client, f"/v1/plans/{plan['id']}/budget/lines", line, headers)

    points = [
        point(metric, value, str(MONTH_START + timedelta(days=i)), channel="meta", campaign="spring")
        for i in range(DAYS)
        for metric, value in PER_DAY.items()
    ]
    batch = await push_and_wait(client, headers, points, source="meta")
    assert batch["status"] == "done", batch
    await wait_for_alert(client, headers, kpis["CPA"])
    return Seeded(kpis=kpis, plan_id=plan["id"], objective_id=objective["id"])


async def wait_for_alert(client, headers, kpi_id: str, timeout_s: float = 20) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        items = (await client.get(f"/v1/alerts?kpi_id={kpi_id}", headers=headers)).json()["items"]
        if items:
            return items[0]
        assert time.monotonic() < deadline, "the evaluation opened no alert"
        await asyncio.sleep(0.05)


PREVIOUS_START = (MONTH_START - timedelta(days=1)).replace(day=1)
PREVIOUS_DAYS = (MONTH_START - PREVIOUS_START).days
# Google Ads this month, beside seed()'s Meta: a second channel and campaign to drill down into, with a CPA of its
# own (80 a conversion against Meta's 33.33), so a ratio of sums per slice differs from any mean.
GOOGLE_PER_DAY = {"spend": 80, "impressions": 4_000, "clicks": 40, "conversions": 1, "revenue": 500}
# Meta last month spent less a day: this month's spend is a rise, worse for a KPI where lower is better.
PREVIOUS_PER_DAY = {"spend": 150, "impressions": 9_000, "clicks": 120, "conversions": 6, "revenue": 1_500}


async def seed_history(client, headers) -> str:
    """Last month on Meta, Google Ads this month, and a KPI without a target (its id is returned)."""
    points = [
        point(metric, value, str(PREVIOUS_START + timedelta(days=i)), channel="meta", campaign="autumn")
        for i in range(PREVIOUS_DAYS)
        for metric, value in PREVIOUS_PER_DAY.items()
    ]
    points += [
        point(metric, value, str(MONTH_START + timedelta(days=i)), channel="google_ads", campaign="brand")
        for i in range(DAYS)
        for metric, value in GOOGLE_PER_DAY.items()
    ]
    batch = await push_and_wait(client, headers, points, source="google_ads")
    assert batch["status"] == "done", batch
    untargeted = await _post(
        client,
        "/v1/kpis",
        {"name": "Clicks", "category": "output", "formula": "clicks", "unit": "count", "direction": "higher_is_better"},
        headers,
    )
    return untargeted["id"]
