"""A plan's budget: lines never exceed the total (even in parallel), reallocations keep it, the report adds up."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from tests.ingest_support import point, push_and_wait
from tests.support import BACKEND
from tests.test_plans import make_plan, make_team


async def budgeted_plan(client, headers, total="10000.00", currency="EUR") -> str:
    plan = await make_plan(client, headers)
    r = await client.put(f"/v1/plans/{plan['id']}/budget", json={"total": total, "currency": currency}, headers=headers)
    assert r.status_code == 200, r.text
    return plan["id"]


async def add_line(client, headers, plan_id, **fields):
    return await client.post(f"/v1/plans/{plan_id}/budget/lines", json=fields, headers=headers)


async def test_a_budget_has_a_total_and_an_iso_currency(client, keys):
    h = keys.headers("editor")
    pid = await budgeted_plan(client, h, total="12500.5", currency="eur")
    body = (await client.get(f"/v1/plans/{pid}/budget", headers=keys.headers("viewer"))).json()
    assert (body["total"], body["currency"], body["allocated"], body["unallocated"]) == (
        "12500.50",
        "EUR",
        "0.00",
        "12500.50",
    )
    for bad in (
        {"total": "-1", "currency": "EUR"},
        {"total": "10", "currency": "EURO"},
        {"total": "10", "currency": "XYZ"},
        {"total": 1.005, "currency": "EUR"},
        {"total": "abc", "currency": "EUR"},
    ):
        r = await client.put(f"/v1/plans/{pid}/budget", json=bad, headers=h)
        assert r.status_code == 422, bad
    assert (await client.get(f"/v1/plans/{pid}/budget", headers=h)).json()["total"] == "12500.50"


async def test_lines_cannot_add_up_to_more_than_the_total(client, keys):
    h = keys.headers("editor")
    pid = await budgeted_plan(client, h, total="1000")
    assert (await add_line(client, h, pid, channel="meta", planned_amount="600")).status_code == 201
    over = await add_line(client, h, pid, channel="google_ads", planned_amount="450.25")
    assert over.status_code == 409
    problem = over.json()
    assert problem["overshoot"] == "50.25" and problem["total"] == "1000.00"
    assert "50.25 over the budget total of 1000.00" in problem["detail"]
    exact = await add_line(client, h, pid, channel="google_ads", planned_amount="400")
    assert exact.status_code == 201
    grow = await client.patch(
        f"/v1/plans/{pid}/budget/lines/{exact.json()['id']}", json={"planned_amount": "400.01"}, headers=h
    )
    assert grow.status_code == 409 and grow.json()["overshoot"] == "0.01"
    shrink_total = await client.put(f"/v1/plans/{pid}/budget", json={"total": "999", "currency": "EUR"}, headers=h)
    assert shrink_total.status_code == 409 and shrink_total.json()["overshoot"] == "1.00"
    lines = (await client.get(f"/v1/plans/{pid}/budget/lines", headers=h)).json()["items"]
    assert sorted(line["planned_amount"] for line in lines) == ["400.00", "600.00"]


async def test_parallel_allocations_never_overshoot_the_total(client, keys):
    h = keys.headers("editor")
    pid = await budgeted_plan(client, h, total="1000")
    results = await asyncio.gather(
        *(add_line(client, h, pid, channel=f"ch{i}", planned_amount="150") for i in range(10))
    )
    codes = sorted(r.status_code for r in results)
    lines = (await client.get(f"/v1/plans/{pid}/budget/lines", headers=h)).json()["items"]
    allocated = sum(Decimal(line["planned_amount"]) for line in lines)
    assert allocated <= Decimal("1000")
    assert codes.count(201) == len(lines)
    if BACKEND == "postgres":
        # Real concurrency on separate connections: exactly six fit, the other four are refused.
        assert codes == [201] * 6 + [409] * 4
    else:
        # SQLite has one writer; a request that cannot get the lock in time is told to retry (503).
        assert set(codes) <= {201, 409, 503}


async def test_a_line_needs_a_dimension_and_valid_references(client, keys, other_org, state):
    h = keys.headers("editor")
    pid = await budgeted_plan(client, h)
    assert (await add_line(client, h, pid, planned_amount="10")).status_code == 422
    assert (await add_line(client, h, pid, channel="meta", planned_amount="-5")).status_code == 422
    foreign_team = await make_team(state, other_org.id)
    r = await add_line(client, h, pid, team_id=str(foreign_team), planned_amount="10")
    assert r.status_code == 422 and r.json()["errors"][0]["location"] == "body.team_id"
    other_plan = await make_plan(client, h, name="other")
    camp = await client.post(
        f"/v1/plans/{other_plan['id']}/campaigns",
        json={"name": "c", "channel": "meta", "start_date": "2027-01-02", "end_date": "2027-01-03"},
        headers=h,
    )
    r = await add_line(client, h, pid, campaign_id=camp.json()["id"], planned_amount="10")
    assert r.status_code == 422 and "another plan" in r.json()["detail"]
    assert (await client.get(f"/v1/plans/{pid}/budget/lines", headers=h)).json()["items"] == []


async def test_reallocation_moves_unspent_money_and_keeps_a_trail(client, keys, org):
    h = keys.headers("editor")
    pid = await budgeted_plan(client, h, total="1000")
    social = (await add_line(client, h, pid, channel="meta", planned_amount="600", actual_amount="450")).json()
    search = (await add_line(client, h, pid, channel="google_ads", planned_amount="300")).json()
    url = f"/v1/plans/{pid}/budget/reallocations"
    too_much = await client.post(
        url,
        json={"from_line_id": social["id"], "to_line_id": search["id"], "amount": "150.01", "reason": "search wins"},
        headers=h,
    )
    assert too_much.status_code == 409 and too_much.json()["available"] == "150.00"
    moved = await client.post(
        url,
        json={"from_line_id": social["id"], "to_line_id": search["id"], "amount": "150", "reason": "search wins"},
        headers=h,
    )
    assert moved.status_code == 201
    lines = {
        line["id"]: line for line in (await client.get(f"/v1/plans/{pid}/budget/lines", headers=h)).json()["items"]
    }
    assert (lines[social["id"]]["planned_amount"], lines[search["id"]]["planned_amount"]) == ("450.00", "450.00")
    budget = (await client.get(f"/v1/plans/{pid}/budget", headers=h)).json()
    assert (budget["total"], budget["allocated"]) == ("1000.00", "900.00")
    [trail] = (await client.get(f"{url}?line_id={search['id']}", headers=keys.headers("viewer"))).json()["items"]
    assert (trail["amount"], trail["reason"], trail["from_line_id"]) == ("150.00", "search wins", social["id"])
    assert trail["by_key_id"] is not None and trail["created_at"]
    same = await client.post(
        url, json={"from_line_id": search["id"], "to_line_id": search["id"], "amount": "1", "reason": "x y"}, headers=h
    )
    assert same.status_code == 422


async def test_the_report_adds_up_per_line_channel_and_total(client, keys, state, org):
    h = keys.headers("editor")
    pid = await budgeted_plan(client, h, total="10000")
    team = await make_team(state, org.id)
    a = (await add_line(client, h, pid, channel="meta", planned_amount="4000", actual_amount="4400")).json()
    await add_line(client, h, pid, channel="meta", planned_amount="1000", actual_amount="250")
    await add_line(client, h, pid, team_id=str(team), planned_amount="2000")
    report = (await client.get(f"/v1/plans/{pid}/budget/report", headers=keys.headers("viewer"))).json()
    assert report["totals"] == {
        "planned": "7000.00",
        "actual": "4650.00",
        "variance": "2350.00",
        "utilisation": "0.6643",
    }
    assert (report["total"], report["unallocated"], report["currency"]) == ("10000.00", "3000.00", "EUR")
    first = next(line for line in report["lines"] if line["line_id"] == a["id"])
    assert (first["variance"], first["utilisation"]) == ("-400.00", "1.1000")
    by_channel = {row["channel"]: row for row in report["by_channel"]}
    assert by_channel["meta"]["planned"] == "5000.00" and by_channel["meta"]["actual"] == "4650.00"
    assert by_channel[None]["planned"] == "2000.00" and by_channel[None]["utilisation"] == "0.0000"


async def test_closed_plans_freeze_the_budget_but_take_actual_spend(client, keys):
    h = keys.headers("editor")
    pid = await budgeted_plan(client, h, total="100")
    line = (await add_line(client, h, pid, channel="meta", planned_amount="50")).json()
    for step in ("approved", "active", "closed"):
        await client.post(f"/v1/plans/{pid}/status", json={"status": step}, headers=h)
    line_url = f"/v1/plans/{pid}/budget/lines/{line['id']}"
    assert (await client.patch(line_url, json={"planned_amount": "60"}, headers=h)).status_code == 409
    assert (await add_line(client, h, pid, channel="x", planned_amount="1")).status_code == 409
    late_invoice = await client.patch(line_url, json={"actual_amount": "48.90"}, headers=h)
    assert late_invoice.status_code == 200 and late_invoice.json()["actual_amount"] == "48.90"
    assert (await client.delete(line_url, headers=h)).status_code == 409


async def test_budget_roles_and_tenants(client, keys, other_org):
    h = keys.headers("editor")
    pid = await budgeted_plan(client, h)
    line = (await add_line(client, h, pid, channel="meta", planned_amount="5")).json()
    assert (await add_line(client, keys.headers("viewer"), pid, channel="x", planned_amount="1")).status_code == 403
    assert (await client.get(f"/v1/plans/{pid}/budget/report", headers=keys.headers("ingest"))).status_code == 403
    assert (await client.get(f"/v1/plans/{pid}/budget", headers=other_org.headers)).status_code == 404
    r = await client.patch(
        f"/v1/plans/{pid}/budget/lines/{line['id']}", json={"planned_amount": "1"}, headers=other_org.headers
    )
    assert r.status_code == 404
    assert (await client.get(f"/v1/plans/{pid}/budget/report", headers=other_org.headers)).status_code == 404
    assert (await client.delete(f"/v1/plans/{pid}/budget/lines/{line['id']}", headers=h)).status_code == 204


async def test_a_line_in_the_reallocation_trail_cannot_be_deleted(client, keys):
    h = keys.headers("editor")
    pid = await budgeted_plan(client, h, total="1000")
    social = (await add_line(client, h, pid, channel="meta", planned_amount="600")).json()
    search = (await add_line(client, h, pid, channel="google_ads", planned_amount="300")).json()
    spare = (await add_line(client, h, pid, channel="email", planned_amount="50")).json()
    url = f"/v1/plans/{pid}/budget/reallocations"
    body = {"from_line_id": social["id"], "to_line_id": search["id"], "amount": "100", "reason": "search wins"}
    move = (await client.post(url, json=body, headers=h)).json()

    for line in (social, search):  # money moved from it, money moved to it
        r = await client.delete(f"/v1/plans/{pid}/budget/lines/{line['id']}", headers=h)
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["referenced_by"] == {"reallocations": 1} and problem["reallocations"] == [move["id"]]
        assert move["id"] in problem["detail"]
    [trail] = (await client.get(url, headers=h)).json()["items"]
    assert (trail["from_line_id"], trail["to_line_id"], trail["amount"]) == (social["id"], search["id"], "100.00")
    assert (await client.delete(f"/v1/plans/{pid}/budget/lines/{spare['id']}", headers=h)).status_code == 204


async def test_ingested_spend_is_not_unspent_money(client, keys):
    h = keys.headers("editor")
    today = datetime.now(UTC).date()
    plan = await make_plan(client, h, name="This month", period_label=f"{today:%Y-%m}")
    pid = plan["id"]
    await client.put(f"/v1/plans/{pid}/budget", json={"total": "1000", "currency": "USD"}, headers=h)
    social = (await add_line(client, h, pid, channel="meta", planned_amount="100", actual_amount="10")).json()
    search = (await add_line(client, h, pid, channel="google_ads", planned_amount="100")).json()
    batch = await push_and_wait(client, keys.headers("ingest"), [point("spend", 60, str(today), channel="meta")])
    assert batch["status"] == "done", batch
    [line] = [
        x
        for x in (await client.get(f"/v1/plans/{pid}/budget/report", headers=h)).json()["lines"]
        if x["line_id"] == social["id"]
    ]
    assert line["actual"] == "70.00"  # 10 by hand + 60 ingested, as the report counts it

    url = f"/v1/plans/{pid}/budget/reallocations"
    body = {"from_line_id": social["id"], "to_line_id": search["id"], "reason": "meta is spent"}
    too_much = await client.post(url, json={**body, "amount": "30.01"}, headers=h)
    assert too_much.status_code == 409, too_much.text
    assert (too_much.json()["available"], too_much.json()["spent"]) == ("30.00", "70.00")
    assert (await client.post(url, json={**body, "amount": "30"}, headers=h)).status_code == 201

    # Ingested spend alone also keeps a line from being deleted.
    email = (await add_line(client, h, pid, channel="email", planned_amount="20")).json()
    await push_and_wait(client, keys.headers("ingest"), [point("spend", 5, str(today), channel="email")])
    r = await client.delete(f"/v1/plans/{pid}/budget/lines/{email['id']}", headers=h)
    assert r.status_code == 409 and r.json()["spent"] == "5.00"
