"""budget.overspend: a line whose actual (manual + ingested spend) passes its allocation fires one webhook,
once, even when two checks run at the same moment; only approved and active plans are checked; another
organisation's spend never counts (the check runs in the worker, across organisations)."""

import asyncio
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select, update

from services.api.webhooks.payloads import BudgetOverspendEvent
from shared.alerts import budget as overspend
from shared.jobs.context import job_session
from shared.jobs.handles import CHECK_OVERSPEND
from shared.plans.models import BudgetLine
from shared.webhooks.models import EventType, WebhookDelivery, WebhookEvent
from tests.ingest_support import point, push_and_wait
from tests.receiver import running_receiver
from tests.test_budget import add_line
from tests.test_plans import make_plan


async def test_a_line_past_its_allocation_fires_once(client, keys, org, other_org, state):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    plan = await budgeted_plan(client, admin)
    await move_plan(client, admin, plan["id"], "approved")
    line = (await add_line(client, admin, plan["id"], channel="meta", planned_amount="100")).json()
    await add_line(client, admin, plan["id"], channel="google_ads", planned_amount="100")
    today = datetime.now(UTC).date()

    async with running_receiver() as receiver:
        await subscribe_overspend(client, admin, receiver.url)
        # The other organisation spends 500 on Meta: not ours.
        await push_and_wait(client, other_org.headers, [point("spend", 500, str(today), channel="meta")])
        await push_and_wait(client, ingest, [point("spend", 60, str(today), channel="meta")])
        assert await check(state, org) == 0

        # 60 + 50: past the 100 allocated to the Meta line (the Google Ads line is untouched).
        await push_and_wait(client, ingest, [point("spend", 50, str(today), channel="meta", campaign="c2")])
        [event] = await receiver.wait_for(1)
        body = json.loads(event.body)
        assert body["type"] == "budget.overspend"
        BudgetOverspendEvent.model_validate(body)  # of its documented shape (the OpenAPI document's webhooks)
        assert (body["data"]["line"]["id"], body["data"]["actual"], body["data"]["overspend"]) == (
            line["id"],
            "110.00",
            "10.00",
        )

        await push_and_wait(client, ingest, [point("spend", 30, str(today), channel="meta", campaign="c3")])
        assert await check(state, org) == 0
        assert await overspend_deliveries(state, org.id) == 1, "one event per line"


async def test_two_checks_at_the_same_moment_fire_one_event_per_line(client, keys, org, state, monkeypatch):
    admin = keys.headers("admin")
    plan = await budgeted_plan(client, admin)
    await move_plan(client, admin, plan["id"], "approved")
    lines = [
        (await add_line(client, admin, plan["id"], channel=channel, planned_amount="100")).json()["id"]
        for channel in ("meta", "google_ads")
    ]
    # Both checks read the lines as not yet notified before either goes on (two batches merging at once).
    both_have_read = asyncio.Barrier(2)
    ingested_by_lines = overspend.ingested_by_lines

    async def read_then_wait(session, entries):
        if any(str(p.id) == plan["id"] for p, _ in entries):
            await both_have_read.wait()
        return await ingested_by_lines(session, entries)

    monkeypatch.setattr(overspend, "ingested_by_lines", read_then_wait)

    async with running_receiver() as receiver:
        await subscribe_overspend(client, admin, receiver.url)
        await set_actual(state, lines, "150")
        ctx = job_ctx(state)
        async with asyncio.timeout(30):
            fired = await asyncio.gather(
                overspend.check_overspend(ctx, org_id=str(org.id)), overspend.check_overspend(ctx, org_id=str(org.id))
            )
        assert sum(fired) == 2, fired
        assert await overspend_deliveries(state, org.id) == 2, "one event and one delivery per line"
        requests = await receiver.wait_for(2)
        assert sorted(json.loads(r.body)["data"]["line"]["id"] for r in requests) == sorted(lines)


async def test_only_approved_and_active_plans_are_checked(client, keys, org, state):
    admin = keys.headers("admin")
    plan = await budgeted_plan(client, admin)
    meta = (await add_line(client, admin, plan["id"], channel="meta", planned_amount="100")).json()["id"]
    later = (await add_line(client, admin, plan["id"], channel="google_ads", planned_amount="100")).json()["id"]
    async with running_receiver() as receiver:
        await subscribe_overspend(client, admin, receiver.url)
        await set_actual(state, [meta], "150")
        assert await check(state, org) == 0, "a draft's allocations are still being written"

        await move_plan(client, admin, plan["id"], "approved")
        assert await check(state, org) == 1
        [event] = await receiver.wait_for(1)
        assert json.loads(event.body)["data"]["line"]["id"] == meta

        for step in ("active", "closed"):
            await move_plan(client, admin, plan["id"], step)
        await set_actual(state, [later], "150")
        assert await check(state, org) == 0, "a closed plan is history"
    assert await overspend_deliveries(state, org.id) == 1


async def test_the_periodic_sweep_catches_a_plan_approved_already_overspent(client, keys, org, state):
    admin = keys.headers("admin")
    plan = await budgeted_plan(client, admin)
    line = (await add_line(client, admin, plan["id"], channel="meta", planned_amount="100")).json()["id"]
    async with running_receiver() as receiver:
        await subscribe_overspend(client, admin, receiver.url)
        await set_actual(state, [line], "150")  # no check job runs: the draft was over before approval
        await move_plan(client, admin, plan["id"], "approved")
        # Cron ticks run as the sweep's own function (arq keeps no result of a cron job to wait on).
        assert await overspend.check_overspend_all(job_ctx(state)) >= 1
        [event] = await receiver.wait_for(1)
        assert json.loads(event.body)["data"]["line"]["id"] == line
        assert await overspend.check_overspend_all(job_ctx(state)) == 0
    assert await overspend_deliveries(state, org.id) == 1


async def budgeted_plan(client, headers) -> dict:
    """A plan for this month with a budget of 1,000 USD (the currency of the spend the tests push) (a draft)."""
    plan = await make_plan(client, headers, name="This month", period_label=f"{datetime.now(UTC).date():%Y-%m}")
    r = await client.put(f"/v1/plans/{plan['id']}/budget", json={"total": "1000", "currency": "USD"}, headers=headers)
    assert r.status_code == 200, r.text
    return plan


async def move_plan(client, headers, plan_id: str, to: str) -> None:
    r = await client.post(f"/v1/plans/{plan_id}/status", json={"status": to}, headers=headers)
    assert r.status_code == 200, r.text


async def subscribe_overspend(client, headers, url) -> None:
    r = await client.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": ["budget.overspend"]}, headers=headers
    )
    assert r.status_code == 201, r.text


def job_ctx(state) -> dict:
    return {"db": state.db, "queue": state.queue, "settings": state.settings}


async def check(state, org) -> int:
    return await CHECK_OVERSPEND.run_and_wait(state.queue, timeout_s=20, org_id=str(org.id))


async def set_actual(state, line_ids: list[str], amount: str) -> None:
    """Record a line's actual straight in the database: unlike the API, this starts no check of its own."""
    async with job_session(job_ctx(state)) as session:
        await session.execute(
            update(BudgetLine)
            .where(BudgetLine.id.in_([uuid.UUID(i) for i in line_ids]))
            .values(actual_amount=Decimal(amount))
        )


async def overspend_deliveries(state, org_id: uuid.UUID) -> int:
    async with job_session(job_ctx(state)) as session:
        return await session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookEvent.org_id == org_id, WebhookEvent.type == EventType.budget_overspend)
        )
