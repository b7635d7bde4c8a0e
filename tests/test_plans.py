"""Plans for a period move draft → approved → active → closed; campaigns live inside their plan."""

import uuid

import pytest

from shared.db.scoping import bind_org
from shared.department.models import Team

PROBLEM = "application/problem+json"


async def make_plan(client, headers, **fields) -> dict:
    body = {"name": "Q1 plan", "period_label": "2027-Q1", **fields}
    r = await client.post("/v1/plans", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def make_team(state, org_id, name="Paid media") -> uuid.UUID:
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        team = Team(name=name)
        session.add(team)
        await session.commit()
        return team.id


async def test_a_plan_from_a_period_label_gets_its_dates(client, keys):
    plan = await make_plan(client, keys.headers("editor"))
    assert (plan["start_date"], plan["end_date"], plan["status"]) == ("2027-01-01", "2027-03-31", "draft")
    custom = await make_plan(
        client, keys.headers("editor"), period_label=None, start_date="2027-02-01", end_date="2027-02-14"
    )
    assert custom["period_label"] is None and custom["end_date"] == "2027-02-14"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},
        {"name": "x", "period_label": "2027-Q5"},
        {"name": "x", "start_date": "2027-03-01", "end_date": "2027-02-01"},
        {"name": "x", "start_date": "2027-03-01"},
        {"name": "", "period_label": "2027"},
        {"name": "x", "period_label": "2027", "status": "active"},
        {"name": "x", "start_date": "yesterday", "end_date": "2027-02-01"},
    ],
)
async def test_bad_plans_are_422_and_nothing_is_written(client, keys, body):
    r = await client.post("/v1/plans", json=body, headers=keys.headers("editor"))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert (await client.get("/v1/plans", headers=keys.headers("viewer"))).json()["items"] == []


async def test_the_status_moves_one_step_at_a_time(client, keys):
    plan = await make_plan(client, keys.headers("editor"))
    url = f"/v1/plans/{plan['id']}/status"
    skip = await client.post(url, json={"status": "active"}, headers=keys.headers("editor"))
    assert skip.status_code == 409 and "only next status is approved" in skip.json()["detail"]
    for step in ("approved", "active", "closed"):
        r = await client.post(url, json={"status": step}, headers=keys.headers("editor"))
        assert r.status_code == 200 and r.json()["status"] == step
    back = await client.post(url, json={"status": "draft"}, headers=keys.headers("editor"))
    assert back.status_code == 409 and "closed plan stays closed" in back.json()["detail"]
    edit = await client.patch(f"/v1/plans/{plan['id']}", json={"name": "renamed"}, headers=keys.headers("editor"))
    assert edit.status_code == 409


async def test_plans_filter_by_status_period_and_date(client, keys):
    h = keys.headers("editor")
    q1 = await make_plan(client, h)
    q2 = await make_plan(client, h, name="Q2", period_label="2027-Q2")
    await client.post(f"/v1/plans/{q2['id']}/status", json={"status": "approved"}, headers=h)
    get = lambda q: client.get(f"/v1/plans?{q}", headers=keys.headers("viewer"))  # noqa: E731
    assert [p["id"] for p in (await get("status=approved")).json()["items"]] == [q2["id"]]
    assert [p["id"] for p in (await get("period_label=2027-q1")).json()["items"]] == [q1["id"]]
    assert [p["id"] for p in (await get("active_on=2027-05-05")).json()["items"]] == [q2["id"]]
    assert (await get("period_label=spring")).status_code == 422


async def test_campaigns_must_lie_inside_their_plan(client, keys, state, org):
    h = keys.headers("editor")
    plan = await make_plan(client, h)
    team = await make_team(state, org.id)
    url = f"/v1/plans/{plan['id']}/campaigns"
    body = {"name": "Spring sale", "channel": "Meta", "start_date": "2027-03-01", "end_date": "2027-03-20"}
    created = await client.post(url, json={**body, "owner_team_id": str(team)}, headers=h)
    assert created.status_code == 201 and created.json()["channel"] == "meta"
    outside = await client.post(url, json={**body, "name": "Late", "end_date": "2027-04-02"}, headers=h)
    assert outside.status_code == 422 and "not inside its plan's period" in outside.json()["detail"]
    twin = await client.post(url, json=body, headers=h)
    assert twin.status_code == 409
    ghost = await client.post(url, json={**body, "name": "Ghost", "objective_id": str(uuid.uuid4())}, headers=h)
    assert ghost.status_code == 422 and ghost.json()["errors"][0]["location"] == "body.objective_id"
    cid = created.json()["id"]
    moved = await client.patch(f"{url}/{cid}", json={"start_date": "2026-12-20"}, headers=h)
    assert moved.status_code == 422
    shrink = await client.patch(f"/v1/plans/{plan['id']}", json={"period_label": "2027-01"}, headers=h)
    assert shrink.status_code == 409 and shrink.json()["campaigns"] == ["Spring sale"]
    listed = (await client.get(url, headers=keys.headers("viewer"))).json()["items"]
    assert [c["name"] for c in listed] == ["Spring sale"]
    assert listed[0]["start_date"] == "2027-03-01"


async def test_campaigns_filter_and_page(client, keys, state, org, count_queries):
    h = keys.headers("editor")
    plan = await make_plan(client, h)
    url = f"/v1/plans/{plan['id']}/campaigns"
    for i in range(5):
        channel = "meta" if i % 2 else "google_ads"
        body = {"name": f"c{i}", "channel": channel, "start_date": "2027-01-05", "end_date": "2027-01-09"}
        assert (await client.post(url, json=body, headers=h)).status_code == 201
    assert len((await client.get(f"{url}?channel=meta", headers=h)).json()["items"]) == 2
    first = (await client.get(f"{url}?limit=3", headers=h)).json()
    rest = (await client.get(f"{url}?limit=3&cursor={first['next_cursor']}", headers=h)).json()
    assert [c["name"] for c in first["items"] + rest["items"]] == [f"c{i}" for i in range(5)]
    with count_queries as small:
        await client.get(f"{url}?limit=1", headers=h)
    with count_queries as big:
        await client.get(f"{url}?limit=5", headers=h)
    assert small.count == big.count


async def test_only_draft_plans_can_be_deleted_and_they_take_their_children(client, keys):
    h = keys.headers("editor")
    plan = await make_plan(client, h)
    pid = plan["id"]
    camp = await client.post(
        f"/v1/plans/{pid}/campaigns",
        json={"name": "c", "channel": "email", "start_date": "2027-01-05", "end_date": "2027-01-09"},
        headers=h,
    )
    await client.put(f"/v1/plans/{pid}/budget", json={"total": "100", "currency": "EUR"}, headers=h)
    line = {"campaign_id": camp.json()["id"], "planned_amount": "40"}
    assert (await client.post(f"/v1/plans/{pid}/budget/lines", json=line, headers=h)).status_code == 201
    assert (await client.delete(f"/v1/plans/{pid}", headers=h)).status_code == 204
    assert (await client.get(f"/v1/plans/{pid}", headers=h)).status_code == 404

    kept = await make_plan(client, h)
    await client.post(f"/v1/plans/{kept['id']}/status", json={"status": "approved"}, headers=h)
    r = await client.delete(f"/v1/plans/{kept['id']}", headers=h)
    assert r.status_code == 409 and "Only draft plans" in r.json()["detail"]


async def test_roles_and_tenants_on_plans(client, keys, other_org):
    plan = await make_plan(client, keys.headers("editor"))
    assert (
        await client.post("/v1/plans", json={"name": "v", "period_label": "2027"}, headers=keys.headers("viewer"))
    ).status_code == 403
    assert (await client.get("/v1/plans", headers=keys.headers("ingest"))).status_code == 403
    assert (await client.get(f"/v1/plans/{plan['id']}", headers=keys.headers("viewer"))).status_code == 200
    assert (await client.get(f"/v1/plans/{plan['id']}", headers=other_org.headers)).status_code == 404
    assert (
        await client.patch(f"/v1/plans/{plan['id']}", json={"name": "x"}, headers=other_org.headers)
    ).status_code == 404
    assert (await client.get("/v1/plans", headers=other_org.headers)).json()["items"] == []


@pytest.mark.parametrize(
    ("label", "start", "end", "wrong"),
    [
        ("2027-Q1", "2027-06-01", "2027-06-30", ["body.start_date", "body.end_date"]),
        ("2027-Q1", "2027-01-01", "2027-02-28", ["body.end_date"]),
        ("2027-06", "2027-06-02", None, ["body.start_date"]),
        ("2027", "2027-01-01", "2028-01-01", ["body.end_date"]),
        ("2027-W05", "2027-02-02", "2027-02-08", ["body.start_date", "body.end_date"]),  # W05 is Feb 1-7
    ],
)
async def test_a_label_and_dates_that_disagree_are_422_naming_the_dates(client, keys, label, start, end, wrong):
    body = {"name": "x", "period_label": label, "start_date": start, **({"end_date": end} if end else {})}
    r = await client.post("/v1/plans", json=body, headers=keys.headers("editor"))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert [e["location"] for e in r.json()["errors"]] == wrong
    assert (await client.get("/v1/plans", headers=keys.headers("viewer"))).json()["items"] == []


async def test_a_label_and_its_dates_agree_on_create_and_on_patch(client, keys):
    h = keys.headers("editor")
    week = await make_plan(client, h, period_label="2027-w05", start_date="2027-02-01", end_date="2027-02-07")
    assert (week["period_label"], week["start_date"], week["end_date"]) == ("2027-W05", "2027-02-01", "2027-02-07")
    month = await make_plan(client, h, period_label="2027-06", start_date="2027-06-01")
    assert month["end_date"] == "2027-06-30"
    # A period that is no calendar period has dates and no label; a free-form label is not a period.
    spring = {"name": "x", "start_date": "2027-03-20", "end_date": "2027-05-10"}
    assert (await make_plan(client, h, **spring, period_label=None))["period_label"] is None
    named = await client.post("/v1/plans", json={**spring, "period_label": "Spring launch"}, headers=h)
    assert named.status_code == 422 and named.json()["errors"][0]["location"] == "body.period_label"

    plan = await make_plan(client, h)  # 2027-Q1
    url = f"/v1/plans/{plan['id']}"
    moved = await client.patch(url, json={"start_date": "2027-01-15"}, headers=h)
    assert moved.status_code == 422 and [e["location"] for e in moved.json()["errors"]] == ["body.start_date"]
    assert "2027-Q1" in moved.json()["detail"]
    relabelled = await client.patch(url, json={"period_label": "2027-Q2", "end_date": "2027-05-31"}, headers=h)
    assert relabelled.status_code == 422 and relabelled.json()["errors"][0]["location"] == "body.end_date"
    assert (await client.get(url, headers=h)).json()["start_date"] == "2027-01-01"

    q2 = await client.patch(url, json={"period_label": "2027-Q2"}, headers=h)
    assert (q2.status_code, q2.json()["start_date"], q2.json()["end_date"]) == (200, "2027-04-01", "2027-06-30")
    custom = await client.patch(url, json={"period_label": None, "start_date": "2027-04-15"}, headers=h)
    assert custom.status_code == 200
    assert (custom.json()["period_label"], custom.json()["start_date"]) == (None, "2027-04-15")
    assert (await client.patch(url, json={"end_date": "2027-07-15"}, headers=h)).status_code == 200
    assert (await client.patch(url, json={"name": "renamed"}, headers=h)).status_code == 200
