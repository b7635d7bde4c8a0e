"""A manager sets up the department: its description, a tree of teams, positions in them and the people."""

import asyncio
import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from shared.db.scoping import bind_org
from shared.department.models import Department
from shared.plans.models import Budget, BudgetLine, Campaign, Plan
from shared.strategy.models import Objective

PROBLEM = "application/problem+json"


async def make_team(client, org, name, parent_id=None, **extra):
    r = await client.post("/v1/teams", json={"name": name, "parent_id": parent_id, **extra}, headers=org.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def make_position(client, org, team_id, title="Specialist", **extra):
    r = await client.post("/v1/positions", json={"title": title, "team_id": team_id, **extra}, headers=org.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def make_member(client, org, name, email, position_id=None):
    body = {"name": name, "email": email, "position_id": position_id}
    r = await client.post("/v1/members", json=body, headers=org.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def parent_of(client, org, team_id):
    return (await client.get(f"/v1/teams/{team_id}", headers=org.headers)).json()["parent_id"]


# --- the department -------------------------------------------------------------------------------


async def test_department_reads_as_not_configured_before_the_first_put_and_reading_writes_nothing(client, org, state):
    for _ in range(2):
        r = await client.get("/v1/department", headers=org.headers)
        assert r.status_code == 200
        assert r.json() == {
            "configured": False,
            "id": None,
            "name": None,
            "structure_type": None,
            "mission": None,
            "created_at": None,
            "updated_at": None,
        }
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        assert await session.scalar(select(func.count()).select_from(Department)) == 0


async def test_put_creates_the_department_then_replaces_it(client, org):
    body = {"name": "Marketing", "structure_type": "channel", "mission": "Grow pipeline"}
    created = await client.put("/v1/department", json=body, headers=org.headers)
    assert created.status_code == 201
    assert created.json()["configured"] is True
    assert created.json()["structure_type"] == "channel"

    replaced = await client.put("/v1/department", json={"name": "Growth marketing"}, headers=org.headers)
    assert replaced.status_code == 200
    assert replaced.json()["id"] == created.json()["id"]
    assert replaced.json()["name"] == "Growth marketing"
    assert replaced.json()["structure_type"] is None, "PUT replaces: fields left out are cleared"
    assert replaced.json()["mission"] is None

    read = (await client.get("/v1/department", headers=org.headers)).json()
    assert read == replaced.json()


async def test_department_with_an_unknown_structure_type_or_no_name_is_refused(client, org):
    for body in (
        {"name": "Marketing", "structure_type": "circular"},
        {"structure_type": "matrix"},
        {"name": "  ", "structure_type": "matrix"},
        {"name": "Marketing", "colour": "blue"},
    ):
        r = await client.put("/v1/department", json=body, headers=org.headers)
        assert r.status_code == 422, body
        assert r.headers["content-type"] == PROBLEM
    assert (await client.get("/v1/department", headers=org.headers)).json()["configured"] is False


# --- teams ----------------------------------------------------------------------------------------


async def test_teams_form_a_tree_listed_by_parent_or_top_level(client, org):
    growth = await make_team(client, org, "Growth")
    brand = await make_team(client, org, "Brand")
    paid = await make_team(client, org, "Paid", growth)
    await make_team(client, org, "Social", paid)

    def names(r):
        return sorted(t["name"] for t in r.json()["items"])

    assert names(await client.get("/v1/teams?root=true", headers=org.headers)) == ["Brand", "Growth"]
    assert names(await client.get("/v1/teams?root=false", headers=org.headers)) == ["Paid", "Social"]
    assert names(await client.get(f"/v1/teams?parent_id={growth}", headers=org.headers)) == ["Paid"]
    assert names(await client.get(f"/v1/teams?parent_id={brand}", headers=org.headers)) == []
    r = await client.get(f"/v1/teams?parent_id={growth}&root=true", headers=org.headers)
    assert r.status_code == 422


async def test_moving_a_team_under_itself_or_anything_below_it_is_refused(client, org):
    top = await make_team(client, org, "Top")
    child = await make_team(client, org, "Child", top)
    grandchild = await make_team(client, org, "Grandchild", child)

    for new_parent in (top, child, grandchild):
        r = await client.patch(f"/v1/teams/{top}", json={"parent_id": new_parent}, headers=org.headers)
        assert r.status_code == 409, new_parent
        assert r.json()["rule"] == "no_cycles"
        assert "cycle" in r.json()["detail"] or "own parent" in r.json()["detail"]
    r = await client.patch(f"/v1/teams/{child}", json={"parent_id": grandchild}, headers=org.headers)
    assert r.status_code == 409

    assert await parent_of(client, org, top) is None
    assert await parent_of(client, org, child) == top
    assert await parent_of(client, org, grandchild) == child


async def test_a_team_moves_with_its_subteams_and_can_become_top_level(client, org):
    a = await make_team(client, org, "A")
    b = await make_team(client, org, "B")
    a1 = await make_team(client, org, "A1", a)
    a2 = await make_team(client, org, "A2", a1)

    moved = await client.patch(f"/v1/teams/{a1}", json={"parent_id": b}, headers=org.headers)
    assert moved.status_code == 200
    assert moved.json()["parent_id"] == b
    assert await parent_of(client, org, a2) == a1

    lifted = await client.patch(f"/v1/teams/{a1}", json={"parent_id": None}, headers=org.headers)
    assert lifted.json()["parent_id"] is None
    renamed = await client.patch(f"/v1/teams/{a1}", json={"description": "Acquisition"}, headers=org.headers)
    assert renamed.json()["parent_id"] is None, "a PATCH without parent_id leaves the team where it is"
    assert renamed.json()["description"] == "Acquisition"


async def test_sibling_team_names_are_unique_ignoring_case(client, org):
    growth = await make_team(client, org, "Growth")
    brand = await make_team(client, org, "Brand")
    await make_team(client, org, "Content", growth)
    await make_team(client, org, "Content", brand)  # same name under another parent is fine

    for body in ({"name": "growth"}, {"name": "CONTENT", "parent_id": growth}):
        r = await client.post("/v1/teams", json=body, headers=org.headers)
        assert r.status_code == 409, body
        assert r.json()["rule"] == "unique_sibling_names"

    other = await make_team(client, org, "Events", growth)
    rename = await client.patch(f"/v1/teams/{other}", json={"name": "content"}, headers=org.headers)
    assert rename.status_code == 409
    social = await make_team(client, org, "Social")
    await make_team(client, org, "Content", social)
    move = await client.patch(f"/v1/teams/{social}", json={"parent_id": growth}, headers=org.headers)
    assert move.status_code == 200, "Social's own child named Content is not Growth's child"
    clash = await make_team(client, org, "content ")
    move_clash = await client.patch(f"/v1/teams/{clash}", json={"parent_id": growth}, headers=org.headers)
    assert move_clash.status_code == 409

    same = await client.patch(f"/v1/teams/{other}", json={"name": "EVENTS"}, headers=org.headers)
    assert same.status_code == 200, "renaming a team to its own name in another case is not a clash"
    listed = (await client.get(f"/v1/teams?parent_id={growth}", headers=org.headers)).json()["items"]
    assert sorted(t["name"] for t in listed) == ["Content", "EVENTS", "Social"]


async def test_the_team_tree_is_at_most_ten_levels_deep(client, org):
    chain = [await make_team(client, org, "L1")]
    for level in range(2, 11):
        chain.append(await make_team(client, org, f"L{level}", chain[-1]))
    r = await client.post("/v1/teams", json={"name": "L11", "parent_id": chain[-1]}, headers=org.headers)
    assert r.status_code == 409
    assert r.json()["rule"] == "max_depth"

    pair = await make_team(client, org, "P1")
    await make_team(client, org, "P2", pair)
    too_deep = await client.patch(f"/v1/teams/{pair}", json={"parent_id": chain[8]}, headers=org.headers)
    assert too_deep.status_code == 409, "P1 and P2 under level 9 would reach level 11"
    fits = await client.patch(f"/v1/teams/{pair}", json={"parent_id": chain[7]}, headers=org.headers)
    assert fits.status_code == 200


async def test_a_team_with_an_unknown_parent_is_422_and_not_created(client, org):
    missing = str(uuid.uuid4())
    r = await client.post("/v1/teams", json={"name": "Orphan", "parent_id": missing}, headers=org.headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["location"] == "body.parent_id"
    team = await make_team(client, org, "Real")
    r = await client.patch(f"/v1/teams/{team}", json={"parent_id": missing}, headers=org.headers)
    assert r.status_code == 422
    assert [t["name"] for t in (await client.get("/v1/teams", headers=org.headers)).json()["items"]] == ["Real"]


async def test_deleting_a_team_is_refused_while_anything_points_at_it(client, org, state):
    team = await make_team(client, org, "Growth")
    child = await make_team(client, org, "Paid", team)
    position = await make_position(client, org, team)
    workflow = await client.post(
        "/v1/workflows",
        json={"name": "Launch", "owner_team_id": team, "steps": [{"name": "Brief", "owner_team_id": team}]},
        headers=org.headers,
    )
    assert workflow.status_code == 201
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        team_id = uuid.UUID(team)
        plan = Plan(name="2027", start_date=date(2027, 1, 1), end_date=date(2027, 12, 31))
        session.add(plan)
        await session.flush()
        budget = Budget(plan_id=plan.id, total=Decimal("1000"), currency="EUR")
        campaign = Campaign(
            plan_id=plan.id,
            name="Spring",
            channel="meta",
            owner_team_id=team_id,
            start_date=date(2027, 3, 1),
            end_date=date(2027, 3, 31),
        )
        session.add_all([budget, campaign, Objective(statement="Grow leads", owner_team_id=team_id)])
        await session.flush()
        session.add(BudgetLine(budget_id=budget.id, team_id=team_id, planned_amount=Decimal("100")))
        await session.commit()

    r = await client.delete(f"/v1/teams/{team}", headers=org.headers)
    assert r.status_code == 409
    assert r.json()["referenced_by"] == {
        "budget lines": 1,
        "campaigns": 1,
        "objectives": 1,
        "positions": 1,
        "child teams": 1,
        "workflow steps": 1,
        "workflows": 1,
    }
    assert "1 child team," in r.json()["detail"]
    assert (await client.get(f"/v1/teams/{team}", headers=org.headers)).status_code == 200

    # What a single reference looks like, and that the guard lifts once it is gone.
    assert (await client.delete(f"/v1/teams/{child}", headers=org.headers)).status_code == 204
    other = await make_team(client, org, "Brand")
    assert (await client.delete(f"/v1/positions/{position}", headers=org.headers)).status_code == 204
    assert (await client.delete(f"/v1/workflows/{workflow.json()['id']}", headers=org.headers)).status_code == 204
    r = await client.delete(f"/v1/teams/{team}", headers=org.headers)
    assert set(r.json()["referenced_by"]) == {"budget lines", "campaigns", "objectives"}
    assert (await client.delete(f"/v1/teams/{other}", headers=org.headers)).status_code == 204
    assert (await client.get(f"/v1/teams/{other}", headers=org.headers)).status_code == 404


# --- positions ------------------------------------------------------------------------------------


async def test_a_position_is_open_until_a_member_holds_it(client, org):
    team = await make_team(client, org, "Paid social")
    r = await client.post(
        "/v1/positions",
        json={
            "title": "Paid social manager",
            "team_id": team,
            "level": "senior",
            "responsibilities": ["Own the budget", "  Report ROAS weekly "],
            "target_hire_date": "2027-02-01",
        },
        headers=org.headers,
    )
    assert r.status_code == 201
    position = r.json()
    assert position["status"] == "open"
    assert position["holder"] is None
    assert position["responsibilities"] == ["Own the budget", "Report ROAS weekly"]
    assert position["target_hire_date"] == "2027-02-01"

    jane = await make_member(client, org, "Jane Doe", "jane@acme.example", position["id"])
    filled = (await client.get(f"/v1/positions/{position['id']}", headers=org.headers)).json()
    assert filled["status"] == "filled"
    assert filled["holder"] == {"id": jane, "name": "Jane Doe"}

    second = await make_position(client, org, team, "Analyst")
    other_team = await make_team(client, org, "Brand")
    await make_position(client, org, other_team, "Designer")

    def titles(r):
        return sorted(p["title"] for p in r.json()["items"])

    assert titles(await client.get("/v1/positions?status=filled", headers=org.headers)) == ["Paid social manager"]
    assert titles(await client.get("/v1/positions?status=open", headers=org.headers)) == ["Analyst", "Designer"]
    assert titles(await client.get(f"/v1/positions?team_id={team}&status=open", headers=org.headers)) == ["Analyst"]
    assert titles(await client.get("/v1/positions?level=senior", headers=org.headers)) == ["Paid social manager"]
    assert (await client.get("/v1/positions?status=vacant", headers=org.headers)).status_code == 422

    await client.patch(f"/v1/members/{jane}", json={"position_id": second}, headers=org.headers)
    reopened = (await client.get(f"/v1/positions/{position['id']}", headers=org.headers)).json()
    assert reopened["status"] == "open"
    assert (await client.get(f"/v1/positions/{second}", headers=org.headers)).json()["holder"]["id"] == jane


async def test_position_changes_replace_responsibilities_and_move_teams(client, org):
    team = await make_team(client, org, "A")
    other = await make_team(client, org, "B")
    position = await make_position(client, org, team, responsibilities=["x", "y"], level="junior")
    r = await client.patch(
        f"/v1/positions/{position}",
        json={"responsibilities": ["z"], "team_id": other, "level": None},
        headers=org.headers,
    )
    assert r.status_code == 200
    assert (r.json()["responsibilities"], r.json()["team_id"], r.json()["level"]) == (["z"], other, None)
    for body in ({"title": None}, {"team_id": None}, {"responsibilities": None}, {"team_id": str(uuid.uuid4())}):
        bad = await client.patch(f"/v1/positions/{position}", json=body, headers=org.headers)
        assert bad.status_code == 422, body
    assert (await client.get(f"/v1/positions/{position}", headers=org.headers)).json()["team_id"] == other


async def test_deleting_a_filled_position_is_refused_naming_its_holder(client, org):
    team = await make_team(client, org, "Growth")
    position = await make_position(client, org, team)
    jane = await make_member(client, org, "Jane Doe", "jane@acme.example", position)

    r = await client.delete(f"/v1/positions/{position}", headers=org.headers)
    assert r.status_code == 409
    assert r.json()["holder"] == {"id": jane, "name": "Jane Doe"}
    assert "Jane Doe" in r.json()["detail"]

    await client.patch(f"/v1/members/{jane}", json={"position_id": None}, headers=org.headers)
    workflow = await client.post(
        "/v1/workflows",
        json={"name": "Launch", "owner_team_id": team, "steps": [{"name": "Brief", "owner_position_id": position}]},
        headers=org.headers,
    )
    r = await client.delete(f"/v1/positions/{position}", headers=org.headers)
    assert r.status_code == 409
    assert r.json()["referenced_by"] == {"workflow steps": 1}

    await client.delete(f"/v1/workflows/{workflow.json()['id']}", headers=org.headers)
    assert (await client.delete(f"/v1/positions/{position}", headers=org.headers)).status_code == 204
    assert (await client.get(f"/v1/positions/{position}", headers=org.headers)).status_code == 404


async def test_position_list_loads_holders_in_a_constant_number_of_queries(client, org, count_queries):
    team = await make_team(client, org, "Growth")

    async def count_for(n_new):
        for i in range(n_new):
            position = await make_position(client, org, team, f"P{i}")
            await make_member(client, org, f"M{i}", f"m{i}.{uuid.uuid4().hex[:6]}@acme.example", position)
        with count_queries as q:
            r = await client.get("/v1/positions?limit=200", headers=org.headers)
        assert all(p["holder"] is not None for p in r.json()["items"])
        return q.count

    assert await count_for(2) == await count_for(10)


# --- members --------------------------------------------------------------------------------------


async def test_member_emails_are_validated_stored_lower_case_and_unique(client, org):
    r = await client.post("/v1/members", json={"name": "Jane", "email": " Jane.Doe@Acme.Example "}, headers=org.headers)
    assert r.status_code == 201
    assert r.json()["email"] == "jane.doe@acme.example"
    assert r.json()["position_id"] is None and r.json()["team_id"] is None

    dup = await client.post("/v1/members", json={"name": "J", "email": "JANE.DOE@acme.example"}, headers=org.headers)
    assert dup.status_code == 409
    assert dup.json()["conflicting_member_id"] == r.json()["id"]
    for email in ("jane", "jane@", "@acme.example", "jane doe@acme.example", "jane@acme", 42):
        bad = await client.post("/v1/members", json={"name": "J", "email": email}, headers=org.headers)
        assert bad.status_code == 422, email

    john = await make_member(client, org, "John", "john@acme.example")
    clash = await client.patch(f"/v1/members/{john}", json={"email": "jane.doe@acme.example"}, headers=org.headers)
    assert clash.status_code == 409
    keep = await client.patch(f"/v1/members/{john}", json={"email": "JOHN@acme.example"}, headers=org.headers)
    assert keep.status_code == 200, "a member keeping their own email is no clash"
    listed = (await client.get("/v1/members", headers=org.headers)).json()["items"]
    assert sorted(m["email"] for m in listed) == ["jane.doe@acme.example", "john@acme.example"]


async def test_a_position_held_by_someone_else_is_refused_naming_the_holder(client, org):
    team = await make_team(client, org, "Growth")
    position = await make_position(client, org, team)
    jane = await make_member(client, org, "Jane Doe", "jane@acme.example", position)

    r = await client.post(
        "/v1/members", json={"name": "John", "email": "john@acme.example", "position_id": position}, headers=org.headers
    )
    assert r.status_code == 409
    assert r.json()["holder"] == {"id": jane, "name": "Jane Doe"}
    john = await make_member(client, org, "John", "john@acme.example")
    r = await client.patch(f"/v1/members/{john}", json={"position_id": position}, headers=org.headers)
    assert r.status_code == 409
    again = await client.patch(f"/v1/members/{jane}", json={"position_id": position}, headers=org.headers)
    assert again.status_code == 200, "the holder re-sending their own position is no clash"
    assert again.json()["team_id"] == team

    moved = await client.patch(f"/v1/members/{jane}", json={"position_id": None}, headers=org.headers)
    assert moved.json()["position_id"] is None and moved.json()["team_id"] is None
    taken = await client.patch(f"/v1/members/{john}", json={"position_id": position}, headers=org.headers)
    assert taken.status_code == 200
    assert taken.json()["team_id"] == team


async def test_members_filter_by_team_position_assignment_and_text(client, org):
    growth = await make_team(client, org, "Growth")
    brand = await make_team(client, org, "Brand")
    p1 = await make_position(client, org, growth)
    p2 = await make_position(client, org, brand)
    await make_member(client, org, "Ana Lopez", "ana@acme.example", p1)
    await make_member(client, org, "Bo 100%", "bo@acme.example", p2)
    await make_member(client, org, "Cy", "cy_lopez@other.example")

    async def names(query):
        r = await client.get(f"/v1/members?{query}", headers=org.headers)
        assert r.status_code == 200, r.text
        return sorted(m["name"] for m in r.json()["items"])

    assert await names(f"team_id={growth}") == ["Ana Lopez"]
    assert await names(f"position_id={p2}") == ["Bo 100%"]
    assert await names("has_position=false") == ["Cy"]
    assert await names("has_position=true") == ["Ana Lopez", "Bo 100%"]
    assert await names("q=LOPEZ") == ["Ana Lopez", "Cy"]
    assert await names("q=%25") == ["Bo 100%"], "% is a character to look for, not a wildcard"
    assert await names("q=_") == ["Cy"]
    assert await names(f"q=acme&team_id={brand}") == ["Bo 100%"]


async def test_deleting_a_member_opens_their_position(client, org):
    team = await make_team(client, org, "Growth")
    position = await make_position(client, org, team)
    jane = await make_member(client, org, "Jane", "jane@acme.example", position)
    assert (await client.delete(f"/v1/members/{jane}", headers=org.headers)).status_code == 204
    assert (await client.get(f"/v1/members/{jane}", headers=org.headers)).status_code == 404
    assert (await client.get(f"/v1/positions/{position}", headers=org.headers)).json()["status"] == "open"


async def test_member_list_loads_positions_in_a_constant_number_of_queries(client, org, count_queries):
    team = await make_team(client, org, "Growth")

    async def count_for(n_new):
        for i in range(n_new):
            position = await make_position(client, org, team, f"P{i}")
            await make_member(client, org, f"M{i}", f"m{i}.{uuid.uuid4().hex[:6]}@acme.example", position)
        with count_queries as q:
            r = await client.get("/v1/members?limit=200", headers=org.headers)
        assert all(m["team_id"] == team for m in r.json()["items"])
        return q.count

    assert await count_for(2) == await count_for(10)


async def test_two_concurrent_creates_of_the_same_top_level_team_make_one_team(client, org):
    async def create():
        return await client.post("/v1/teams", json={"name": "Growth"}, headers=org.headers)

    results = await asyncio.gather(*(create() for _ in range(4)))
    codes = sorted(r.status_code for r in results)
    # The service's check, or the unique constraint behind it for a race the check cannot see: one team.
    assert codes == [201, 409, 409, 409]
    assert [t["name"] for t in (await client.get("/v1/teams", headers=org.headers)).json()["items"]] == ["Growth"]
