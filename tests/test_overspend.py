"""budget.overspend: a line whose actual (manual + ingested spend) passes its allocation fires one webhook,
once; another organisation's spend never counts (the check runs in the worker, across organisations)."""

import asyncio
import json
from datetime import UTC, datetime

from shared.jobs.queue import run_and_wait
from tests.ingest_support import point, push_and_wait
from tests.receiver import running_receiver
from tests.test_budget import add_line
from tests.test_plans import make_plan


async def test_a_line_past_its_allocation_fires_once(client, keys, org, other_org, state):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    today = datetime.now(UTC).date()
    month = f"{today:%Y-%m}"
    plan = await make_plan(client, admin, name="This month", period_label=month)
    r = await client.put(f"/v1/plans/{plan['id']}/budget", json={"total": "1000", "currency": "EUR"}, headers=admin)
    assert r.status_code == 200, r.text
    line = (await add_line(client, admin, plan["id"], channel="meta", planned_amount="100")).json()
    await add_line(client, admin, plan["id"], channel="google_ads", planned_amount="100")

    async with running_receiver() as receiver:
        await subscribe_overspend(client, admin, receiver.url)
        # The other organisation spends 500 on Meta: not ours.
        await push_and_wait(client, other_org.headers, [point("spend", 500, str(today), channel="meta")])
        await push_and_wait(client, ingest, [point("spend", 60, str(today), channel="meta")])
        assert await run_and_wait(state.queue, "budgets.check_overspend", timeout_s=20, org_id=str(org.id)) == 0

        # 60 + 50: past the 100 allocated to the Meta line (the Google Ads line is untouched).
        await push_and_wait(client, ingest, [point("spend", 50, str(today), channel="meta", campaign="c2")])
        [event] = await receiver.wait_for(1)
        body = json.loads(event.body)
        assert body["type"] == "budget.overspend"
        assert (body["data"]["line"]["id"], body["data"]["actual"], body["data"]["overspend"]) == (
            line["id"],
            "110.00",
            "10.00",
        )

        await push_and_wait(client, ingest, [point("spend", 30, str(today), channel="meta", campaign="c3")])
        assert await run_and_wait(state.queue, "budgets.check_overspend", timeout_s=20, org_id=str(org.id)) == 0
        await asyncio.sleep(0.3)
        assert len(receiver.requests) == 1, "one event per line"


async def subscribe_overspend(client, headers, url) -> None:
    r = await client.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": ["budget.overspend"]}, headers=headers
    )
    assert r.status_code == 201, r.text
