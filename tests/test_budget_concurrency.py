"""Edits of a budget line that race a reallocation (or a spend entry) never over-allocate the budget: each change
reads the lines only once it holds the budget's lock, so it sees what the change before it committed."""

import asyncio
from decimal import Decimal

import pytest

from services.api.plans.budgets import service as budget_service
from tests.support import BACKEND
from tests.test_budget import add_line, budgeted_plan


async def two_lines(client, h, a="100", b="800") -> tuple[str, str, str]:
    pid = await budgeted_plan(client, h, total="1000")
    line_a = (await add_line(client, h, pid, channel="meta", planned_amount=a)).json()["id"]
    line_b = (await add_line(client, h, pid, channel="google_ads", planned_amount=b)).json()["id"]
    return pid, line_a, line_b


def move(client, h, pid, from_id, to_id, amount="50"):
    body = {"from_line_id": from_id, "to_line_id": to_id, "amount": amount, "reason": "shift to search"}
    return client.post(f"/v1/plans/{pid}/budget/reallocations", json=body, headers=h)


async def planned(client, h, pid) -> dict[str, Decimal]:
    items = (await client.get(f"/v1/plans/{pid}/budget/lines", headers=h)).json()["items"]
    return {line["id"]: Decimal(line["planned_amount"]) for line in items}


@pytest.fixture
def held_at_the_lock(monkeypatch):
    """Once armed (by `run_held`), hold the next request that reaches the budget lock there until `release` is
    set, as a busy database holds a slow request: whatever it read before the lock is then stale."""
    real_lock = budget_service.lock_budget
    gate = {"armed": False, "arrived": asyncio.Event(), "release": asyncio.Event()}

    async def lock_when_released(session, budget):
        if gate["armed"]:
            gate["armed"] = False
            gate["arrived"].set()
            await gate["release"].wait()
        await real_lock(session, budget)

    monkeypatch.setattr(budget_service, "lock_budget", lock_when_released)
    return gate


async def run_held(gate, held_request, meanwhile):
    """Start `held_request`, let `meanwhile` run to completion while it waits at the lock, then let it go on."""
    gate["armed"] = True
    held = asyncio.create_task(held_request)
    await gate["arrived"].wait()
    done = await meanwhile
    gate["release"].set()
    return await held, done


async def test_an_edit_held_at_the_lock_sees_the_reallocation_that_committed_first(client, keys, held_at_the_lock):
    h = keys.headers("editor")
    pid, a, b = await two_lines(client, h)
    patch = client.patch(f"/v1/plans/{pid}/budget/lines/{a}", json={"planned_amount": "200"}, headers=h)
    edited, moved = await run_held(held_at_the_lock, patch, move(client, h, pid, a, b))
    assert moved.status_code == 201
    # A holds 50 and B 850 after the move: 200 for A would allocate 1050 of 1000.
    assert edited.status_code == 409, edited.text
    assert edited.json()["overshoot"] == "50.00"
    lines = await planned(client, h, pid)
    assert (lines[a], lines[b]) == (Decimal("50"), Decimal("850"))
    budget = (await client.get(f"/v1/plans/{pid}/budget", headers=h)).json()
    assert (budget["allocated"], budget["unallocated"]) == ("900.00", "100.00")


async def test_an_edit_back_to_the_value_it_first_read_is_still_written(client, keys, held_at_the_lock):
    h = keys.headers("editor")
    pid, a, b = await two_lines(client, h)
    # The PATCH read A = 100 before the move took it to 50: asking for 100 must still write 100.
    patch = client.patch(f"/v1/plans/{pid}/budget/lines/{a}", json={"planned_amount": "100"}, headers=h)
    edited, moved = await run_held(held_at_the_lock, patch, move(client, h, pid, a, b))
    assert (moved.status_code, edited.status_code) == (201, 200)
    assert edited.json()["planned_amount"] == "100.00"
    lines = await planned(client, h, pid)
    assert (lines[a], lines[b]) == (Decimal("100"), Decimal("850"))


async def test_a_delete_held_at_the_lock_sees_spend_recorded_meanwhile(client, keys, held_at_the_lock):
    h = keys.headers("editor")
    pid, a, _ = await two_lines(client, h)
    line_url = f"/v1/plans/{pid}/budget/lines/{a}"
    deleted, spent = await run_held(
        held_at_the_lock,
        client.delete(line_url, headers=h),
        client.patch(line_url, json={"actual_amount": "30"}, headers=h),
    )
    assert spent.status_code == 200
    assert deleted.status_code == 409 and "recorded spend" in deleted.json()["detail"]
    assert a in await planned(client, h, pid)


async def test_parallel_edits_and_reallocations_never_allocate_more_than_the_total(client, keys):
    h = keys.headers("editor")
    for _ in range(8):
        pid, a, b = await two_lines(client, h)
        results = await asyncio.gather(
            client.patch(f"/v1/plans/{pid}/budget/lines/{a}", json={"planned_amount": "200"}, headers=h),
            move(client, h, pid, a, b),
            client.patch(f"/v1/plans/{pid}/budget/lines/{b}", json={"planned_amount": "800"}, headers=h),
            move(client, h, pid, b, a, amount="25"),
        )
        codes = [r.status_code for r in results]
        allowed = {200, 201, 409} if BACKEND == "postgres" else {200, 201, 409, 503}
        assert set(codes) <= allowed, [r.text for r in results]
        budget = (await client.get(f"/v1/plans/{pid}/budget", headers=h)).json()
        lines = await planned(client, h, pid)
        assert Decimal(budget["allocated"]) == sum(lines.values())
        assert Decimal(budget["allocated"]) <= Decimal("1000"), (codes, lines)
        assert Decimal(budget["unallocated"]) >= 0
