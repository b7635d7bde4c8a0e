"""A manager describes the department's processes: ordered steps with owners, and the tools they use."""

import asyncio
import random
import uuid

from sqlalchemy import func, select

from shared.db.scoping import bind_org
from shared.department.models import WorkflowStep, WorkflowTool
from tests.test_department_structure import make_position, make_team

PROBLEM = "application/problem+json"


async def make_workflow(client, org, team, steps=(), tools=(), name="Campaign launch"):
    body = {
        "name": name,
        "owner_team_id": team,
        "steps": [{"name": s} if isinstance(s, str) else s for s in steps],
        "tools": list(tools),
    }
    r = await client.post("/v1/workflows", json=body, headers=org.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def steps_of(client, org, workflow_id):
    r = await client.get(f"/v1/workflows/{workflow_id}/steps", headers=org.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [s["position"] for s in items] == list(range(1, len(items) + 1)), "positions are 1..n"
    return items


async def names_in_order(client, org, workflow_id):
    return [s["name"] for s in await steps_of(client, org, workflow_id)]


async def test_a_workflow_is_created_with_its_tools_and_steps_and_read_back(client, org):
    team = await make_team(client, org, "Growth")
    position = await make_position(client, org, team, "Designer")
    created = await make_workflow(
        client,
        org,
        team,
        steps=[
            {"name": "Brief", "owner_team_id": team, "expected_duration_hours": 2},
            {"name": "Design", "owner_position_id": position, "expected_duration_hours": 1.234, "sla_hours": 24},
            "Launch",
        ],
        tools=[
            {"name": "Asana", "category": "project_management", "purpose": "Briefs"},
            {"name": "Meta Ads Manager", "category": "ad_platform"},
        ],
    )
    assert created["steps_count"] == 3
    read = (await client.get(f"/v1/workflows/{created['id']}", headers=org.headers)).json()
    assert read == created
    assert [(s["name"], s["position"]) for s in read["steps"]] == [("Brief", 1), ("Design", 2), ("Launch", 3)]
    design = read["steps"][1]
    assert (design["owner_position_id"], design["owner_team_id"]) == (position, None)
    assert (design["expected_duration_hours"], design["sla_hours"]) == (1.23, 24)
    assert read["tools"] == [
        {"name": "Asana", "category": "project_management", "purpose": "Briefs"},
        {"name": "Meta Ads Manager", "category": "ad_platform", "purpose": None},
    ]


async def test_inserting_a_step_in_the_middle_shifts_the_later_ones(client, org):
    team = await make_team(client, org, "Growth")
    wf = (await make_workflow(client, org, team, steps=["A", "B", "C"]))["id"]

    r = await client.post(f"/v1/workflows/{wf}/steps", json={"name": "X", "position": 2}, headers=org.headers)
    assert r.status_code == 201
    assert r.json()["position"] == 2
    assert await names_in_order(client, org, wf) == ["A", "X", "B", "C"]

    first = await client.post(f"/v1/workflows/{wf}/steps", json={"name": "Y", "position": 1}, headers=org.headers)
    assert first.json()["position"] == 1
    last = await client.post(f"/v1/workflows/{wf}/steps", json={"name": "Z", "position": 6}, headers=org.headers)
    assert last.json()["position"] == 6
    appended = await client.post(f"/v1/workflows/{wf}/steps", json={"name": "W"}, headers=org.headers)
    assert appended.json()["position"] == 7
    assert await names_in_order(client, org, wf) == ["Y", "A", "X", "B", "C", "Z", "W"]

    for position in (9, 0, -1, "second"):
        bad = await client.post(
            f"/v1/workflows/{wf}/steps", json={"name": "Q", "position": position}, headers=org.headers
        )
        assert bad.status_code == 422, position
    assert len(await steps_of(client, org, wf)) == 7


async def test_deleting_a_step_in_the_middle_closes_the_gap(client, org):
    team = await make_team(client, org, "Growth")
    created = await make_workflow(client, org, team, steps=["A", "B", "C", "D"])
    wf, ids = created["id"], {s["name"]: s["id"] for s in created["steps"]}

    assert (await client.delete(f"/v1/workflows/{wf}/steps/{ids['B']}", headers=org.headers)).status_code == 204
    assert await names_in_order(client, org, wf) == ["A", "C", "D"]
    assert (await client.delete(f"/v1/workflows/{wf}/steps/{ids['D']}", headers=org.headers)).status_code == 204
    assert (await client.delete(f"/v1/workflows/{wf}/steps/{ids['A']}", headers=org.headers)).status_code == 204
    assert await names_in_order(client, org, wf) == ["C"]
    again = await client.delete(f"/v1/workflows/{wf}/steps/{ids['A']}", headers=org.headers)
    assert again.status_code == 404
    assert (await client.get(f"/v1/workflows/{wf}", headers=org.headers)).json()["steps_count"] == 1


async def test_reordering_takes_every_step_once_in_the_new_order(client, org):
    team = await make_team(client, org, "Growth")
    created = await make_workflow(client, org, team, steps=["A", "B", "C"])
    other = await make_workflow(client, org, team, steps=["Elsewhere"], name="Reporting")
    wf, ids = created["id"], {s["name"]: s["id"] for s in created["steps"]}

    r = await client.put(
        f"/v1/workflows/{wf}/steps/order", json={"step_ids": [ids["C"], ids["A"], ids["B"]]}, headers=org.headers
    )
    assert r.status_code == 200
    assert [(s["name"], s["position"]) for s in r.json()["items"]] == [("C", 1), ("A", 2), ("B", 3)]

    for step_ids in (
        [ids["C"], ids["A"]],  # one missing
        [ids["C"], ids["A"], ids["B"], ids["B"]],  # one twice
        [ids["C"], ids["A"], other["steps"][0]["id"]],  # another workflow's step instead of B
        [ids["C"], ids["A"], ids["B"], str(uuid.uuid4())],  # an unknown extra
        [],
    ):
        bad = await client.put(f"/v1/workflows/{wf}/steps/order", json={"step_ids": step_ids}, headers=org.headers)
        assert bad.status_code == 422, step_ids
        assert bad.json()["errors"][0]["location"] == "body.step_ids"
    assert await names_in_order(client, org, wf) == ["C", "A", "B"]
    assert await names_in_order(client, org, other["id"]) == ["Elsewhere"]


async def test_patching_a_steps_position_moves_it_and_shifts_the_steps_between(client, org):
    team = await make_team(client, org, "Growth")
    created = await make_workflow(client, org, team, steps=["A", "B", "C", "D"])
    wf, ids = created["id"], {s["name"]: s["id"] for s in created["steps"]}

    r = await client.patch(f"/v1/workflows/{wf}/steps/{ids['D']}", json={"position": 2}, headers=org.headers)
    assert r.status_code == 200
    assert r.json()["position"] == 2
    assert await names_in_order(client, org, wf) == ["A", "D", "B", "C"]
    r = await client.patch(
        f"/v1/workflows/{wf}/steps/{ids['A']}", json={"position": 4, "name": "A2"}, headers=org.headers
    )
    assert (r.json()["position"], r.json()["name"]) == (4, "A2")
    assert await names_in_order(client, org, wf) == ["D", "B", "C", "A2"]
    past = await client.patch(f"/v1/workflows/{wf}/steps/{ids['A']}", json={"position": 5}, headers=org.headers)
    assert past.status_code == 422
    assert await names_in_order(client, org, wf) == ["D", "B", "C", "A2"]


async def test_step_positions_stay_dense_and_unique_through_any_sequence_of_edits(client, org):
    team = await make_team(client, org, "Growth")
    wf = (await make_workflow(client, org, team))["id"]
    rng = random.Random(20261128)
    expected: list[str] = []  # step ids, in the order the API must report
    for i in range(40):
        action = rng.choice(["insert", "insert", "append", "delete", "move", "reorder"])
        if action in ("insert", "append") or not expected:
            body = {"name": f"S{i}"}
            if action == "insert":
                body["position"] = rng.randint(1, len(expected) + 1)
            r = await client.post(f"/v1/workflows/{wf}/steps", json=body, headers=org.headers)
            assert r.status_code == 201, r.text
            expected.insert(body.get("position", len(expected) + 1) - 1, r.json()["id"])
        elif action == "delete":
            victim = rng.choice(expected)
            assert (await client.delete(f"/v1/workflows/{wf}/steps/{victim}", headers=org.headers)).status_code == 204
            expected.remove(victim)
        elif action == "move":
            step, to = rng.choice(expected), rng.randint(1, len(expected))
            r = await client.patch(f"/v1/workflows/{wf}/steps/{step}", json={"position": to}, headers=org.headers)
            assert r.status_code == 200, r.text
            expected.remove(step)
            expected.insert(to - 1, step)
        else:
            rng.shuffle(expected)
            r = await client.put(f"/v1/workflows/{wf}/steps/order", json={"step_ids": expected}, headers=org.headers)
            assert r.status_code == 200, r.text
        assert [s["id"] for s in await steps_of(client, org, wf)] == expected, (i, action)


async def test_a_step_is_owned_by_a_position_or_a_team_not_both(client, org):
    team = await make_team(client, org, "Growth")
    position = await make_position(client, org, team)
    wf = (await make_workflow(client, org, team))["id"]
    both = {"name": "Both", "owner_team_id": team, "owner_position_id": position}
    assert (await client.post(f"/v1/workflows/{wf}/steps", json=both, headers=org.headers)).status_code == 422

    step = (
        await client.post(f"/v1/workflows/{wf}/steps", json={"name": "S", "owner_team_id": team}, headers=org.headers)
    ).json()
    url = f"/v1/workflows/{wf}/steps/{step['id']}"
    r = await client.patch(url, json={"owner_position_id": position}, headers=org.headers)
    assert r.status_code == 422, "switching owner needs the team cleared in the same request"
    assert (await client.get(f"/v1/workflows/{wf}", headers=org.headers)).json()["steps"][0]["owner_team_id"] == team
    r = await client.patch(url, json={"owner_position_id": position, "owner_team_id": None}, headers=org.headers)
    assert r.status_code == 200
    assert (r.json()["owner_position_id"], r.json()["owner_team_id"]) == (position, None)
    nobody = await client.patch(url, json={"owner_position_id": None}, headers=org.headers)
    assert (nobody.json()["owner_position_id"], nobody.json()["owner_team_id"]) == (None, None)


async def test_bad_step_input_is_refused_and_nothing_is_written(client, org):
    team = await make_team(client, org, "Growth")
    wf = (await make_workflow(client, org, team, steps=["A"]))["id"]
    step = (await steps_of(client, org, wf))[0]["id"]
    for body in (
        {"name": "S", "sla_hours": -1},
        {"name": "S", "expected_duration_hours": -0.5},
        {"name": "S", "sla_hours": "a day"},
        {"name": "S", "sla_hours": 1e9},
        {"name": "S", "owner_team_id": str(uuid.uuid4())},
        {"name": "S", "owner_position_id": "not-a-uuid"},
        {"name": ""},
        {"title": "S"},
    ):
        r = await client.post(f"/v1/workflows/{wf}/steps", json=body, headers=org.headers)
        assert r.status_code == 422, body
        assert r.headers["content-type"] == PROBLEM
        patch = {k: v for k, v in body.items() if k != "name"} or {"name": None}
        r = await client.patch(f"/v1/workflows/{wf}/steps/{step}", json=patch, headers=org.headers)
        assert r.status_code == 422, patch
    [only] = await steps_of(client, org, wf)
    assert (only["name"], only["sla_hours"], only["owner_team_id"]) == ("A", None, None)


async def test_a_workflow_holds_at_most_200_steps(client, org):
    team = await make_team(client, org, "Growth")
    wf = (await make_workflow(client, org, team, steps=[f"S{i}" for i in range(200)]))["id"]
    r = await client.post(f"/v1/workflows/{wf}/steps", json={"name": "One more"}, headers=org.headers)
    assert r.status_code == 409
    too_many = await client.post(
        "/v1/workflows",
        json={"name": "Big", "owner_team_id": team, "steps": [{"name": "s"}] * 201},
        headers=org.headers,
    )
    assert too_many.status_code == 422


async def test_tools_are_replaced_as_a_whole(client, org):
    team = await make_team(client, org, "Growth")
    wf = (await make_workflow(client, org, team, tools=[{"name": "Asana", "category": "project_management"}]))["id"]

    r = await client.put(
        f"/v1/workflows/{wf}/tools",
        json={"tools": [{"name": "asana", "category": "project_management"}, {"name": "GA4", "category": "analytics"}]},
        headers=org.headers,
    )
    assert r.status_code == 200
    assert [t["name"] for t in r.json()["items"]] == ["asana", "GA4"]
    listed = (await client.get(f"/v1/workflows/{wf}/tools", headers=org.headers)).json()["items"]
    assert [t["name"] for t in listed] == ["asana", "GA4"]

    patched = await client.patch(
        f"/v1/workflows/{wf}", json={"tools": [{"name": "HubSpot", "category": "crm"}]}, headers=org.headers
    )
    assert [t["name"] for t in patched.json()["tools"]] == ["HubSpot"]
    renamed = await client.patch(f"/v1/workflows/{wf}", json={"name": "Launch v2"}, headers=org.headers)
    assert [t["name"] for t in renamed.json()["tools"]] == ["HubSpot"], "a PATCH without tools keeps them"

    for tools in (
        [{"name": "GA4", "category": "analytics"}, {"name": "ga4", "category": "analytics"}],
        [{"name": "Fax", "category": "telepathy"}],
        [{"name": "GA4"}],
        [{"name": "GA4", "category": "analytics", "cost": 3}],
        None,
    ):
        bad = await client.put(f"/v1/workflows/{wf}/tools", json={"tools": tools}, headers=org.headers)
        assert bad.status_code == 422, tools
    assert (await client.patch(f"/v1/workflows/{wf}", json={"tools": None}, headers=org.headers)).status_code == 422
    emptied = await client.put(f"/v1/workflows/{wf}/tools", json={"tools": []}, headers=org.headers)
    assert emptied.json()["items"] == []


async def test_workflows_filter_by_owner_team_and_tool_name(client, org):
    growth = await make_team(client, org, "Growth")
    brand = await make_team(client, org, "Brand")
    await make_workflow(client, org, growth, name="Launch", tools=[{"name": "Meta Ads", "category": "ad_platform"}])
    await make_workflow(client, org, growth, name="Report", tools=[{"name": "GA4", "category": "analytics"}])
    await make_workflow(client, org, brand, name="Review", tools=[{"name": "ga4", "category": "analytics"}])

    async def names(query):
        r = await client.get(f"/v1/workflows?{query}", headers=org.headers)
        assert r.status_code == 200, r.text
        return sorted(w["name"] for w in r.json()["items"])

    assert await names(f"owner_team_id={growth}") == ["Launch", "Report"]
    assert await names("tool=GA4") == ["Report", "Review"]
    assert await names(f"tool=ga4&owner_team_id={brand}") == ["Review"]
    assert await names("tool=GA") == []


async def test_workflow_list_shows_step_counts_and_tools_in_a_constant_number_of_queries(client, org, count_queries):
    team = await make_team(client, org, "Growth")

    async def count_for(n_new):
        for i in range(n_new):
            await make_workflow(
                client, org, team, name=f"W{i}", steps=["a", "b"], tools=[{"name": "GA4", "category": "analytics"}]
            )
        with count_queries as q:
            r = await client.get("/v1/workflows?limit=200", headers=org.headers)
        items = r.json()["items"]
        assert all(w["steps_count"] == 2 and len(w["tools"]) == 1 for w in items)
        return q.count

    assert await count_for(2) == await count_for(10)


async def test_deleting_a_workflow_deletes_its_steps_and_tools(client, org, state):
    team = await make_team(client, org, "Growth")
    kept = await make_workflow(
        client, org, team, name="Kept", steps=["k"], tools=[{"name": "GA4", "category": "analytics"}]
    )
    gone = await make_workflow(client, org, team, steps=["a", "b"], tools=[{"name": "GA4", "category": "analytics"}])

    assert (await client.delete(f"/v1/workflows/{gone['id']}", headers=org.headers)).status_code == 204
    assert (await client.get(f"/v1/workflows/{gone['id']}", headers=org.headers)).status_code == 404
    assert (await client.get(f"/v1/workflows/{gone['id']}/steps", headers=org.headers)).status_code == 404
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        steps = await session.scalar(select(func.count()).select_from(WorkflowStep))
        tools = await session.scalar(select(func.count()).select_from(WorkflowTool))
    assert (steps, tools) == (1, 1), "only the kept workflow's step and tool remain"
    assert (await client.get(f"/v1/workflows/{kept['id']}", headers=org.headers)).json()["steps_count"] == 1


async def test_a_step_is_addressed_through_its_own_workflow(client, org):
    team = await make_team(client, org, "Growth")
    one = await make_workflow(client, org, team, steps=["A"])
    two = await make_workflow(client, org, team, steps=["B"], name="Other")
    step_of_two = two["steps"][0]["id"]
    r = await client.patch(f"/v1/workflows/{one['id']}/steps/{step_of_two}", json={"name": "X"}, headers=org.headers)
    assert r.status_code == 404
    r = await client.delete(f"/v1/workflows/{one['id']}/steps/{step_of_two}", headers=org.headers)
    assert r.status_code == 404
    assert await names_in_order(client, org, two["id"]) == ["B"]


async def test_concurrent_step_inserts_keep_positions_dense_and_unique(client, org):
    team = await make_team(client, org, "Growth")
    wf = (await make_workflow(client, org, team, steps=["A", "B"]))["id"]

    async def insert(i):
        return await client.post(
            f"/v1/workflows/{wf}/steps", json={"name": f"C{i}", "position": 1}, headers=org.headers
        )

    results = await asyncio.gather(*(insert(i) for i in range(5)))
    # The workflow's row lock (Postgres) or the write lock (SQLite) makes them take turns: all succeed.
    assert [r.status_code for r in results] == [201] * 5
    steps = await steps_of(client, org, wf)  # asserts positions 1..n
    assert len(steps) == 7
    assert [s["name"] for s in steps][-2:] == ["A", "B"]
