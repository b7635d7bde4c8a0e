"""Who may read and change the department, what another organisation sees, and what bad input gets."""

import uuid

from tests.test_department_structure import make_member, make_position, make_team
from tests.test_department_workflows import make_workflow

PROBLEM = "application/problem+json"


async def _department(client, org):
    """A small department of `org`: ids of a team, a spare team, a position, a member, a workflow, a step."""
    await client.put("/v1/department", json={"name": "Marketing"}, headers=org.headers)
    team = await make_team(client, org, "Growth")
    spare = await make_team(client, org, "Spare")
    position = await make_position(client, org, team)
    member = await make_member(client, org, "Jane", f"jane.{uuid.uuid4().hex[:6]}@acme.example", position)
    workflow = await make_workflow(
        client, org, team, steps=["A", "B"], tools=[{"name": "GA4", "category": "analytics"}]
    )
    return {
        "team": team,
        "spare": spare,
        "position": position,
        "member": member,
        "workflow": workflow["id"],
        "steps": [s["id"] for s in workflow["steps"]],
    }


def _reads(ids):
    w = ids["workflow"]
    return [
        "/v1/department",
        "/v1/department/overview",
        "/v1/teams",
        f"/v1/teams/{ids['team']}",
        "/v1/positions",
        f"/v1/positions/{ids['position']}",
        "/v1/members",
        f"/v1/members/{ids['member']}",
        "/v1/workflows",
        f"/v1/workflows/{w}",
        f"/v1/workflows/{w}/steps",
        f"/v1/workflows/{w}/tools",
    ]


def _writes(ids):
    w, (s1, s2) = ids["workflow"], ids["steps"]
    return [
        ("PUT", "/v1/department", {"name": "Renamed"}, 200),
        ("POST", "/v1/teams", {"name": "New team"}, 201),
        ("PATCH", f"/v1/teams/{ids['team']}", {"description": "changed"}, 200),
        ("POST", "/v1/positions", {"title": "New", "team_id": ids["team"]}, 201),
        ("PATCH", f"/v1/positions/{ids['position']}", {"level": "lead"}, 200),
        ("POST", "/v1/members", {"name": "New", "email": f"n.{uuid.uuid4().hex[:6]}@acme.example"}, 201),
        ("PATCH", f"/v1/members/{ids['member']}", {"name": "Jane D."}, 200),
        ("POST", "/v1/workflows", {"name": "New", "owner_team_id": ids["team"]}, 201),
        ("PATCH", f"/v1/workflows/{w}", {"description": "changed"}, 200),
        ("PUT", f"/v1/workflows/{w}/tools", {"tools": []}, 200),
        ("POST", f"/v1/workflows/{w}/steps", {"name": "C", "position": 1}, 201),
        ("PUT", f"/v1/workflows/{w}/steps/order", None, 200),  # body filled in at call time
        ("PATCH", f"/v1/workflows/{w}/steps/{s1}", {"name": "A2"}, 200),
        ("DELETE", f"/v1/workflows/{w}/steps/{s2}", None, 204),
        ("DELETE", f"/v1/members/{ids['member']}", None, 204),
        ("DELETE", f"/v1/positions/{ids['position']}", None, 204),
        ("DELETE", f"/v1/teams/{ids['spare']}", None, 204),
        ("DELETE", f"/v1/workflows/{w}", None, 204),
    ]


async def _send(client, method, path, body, headers, ids):
    if path.endswith("/steps/order"):
        steps = (await client.get(f"/v1/workflows/{ids['workflow']}/steps", headers=headers)).json().get("items")
        body = {"step_ids": [s["id"] for s in reversed(steps)] if steps else ids["steps"]}
    return await client.request(method, path, json=body, headers=headers)


async def test_editors_make_every_change(client, org, keys):
    ids = await _department(client, org)
    editor = keys.headers("editor")
    for method, path, body, expected in _writes(ids):
        r = await _send(client, method, path, body, editor, ids)
        assert r.status_code == expected, (method, path, r.text)
    assert (await client.get("/v1/department", headers=editor)).json()["name"] == "Renamed"
    assert (await client.get(f"/v1/workflows/{ids['workflow']}", headers=editor)).status_code == 404


async def test_another_organisations_ids_are_not_found(client, org, other_org):
    ids = await _department(client, org)
    theirs = other_org.headers
    for path in _reads(ids)[3:]:
        if path.count("/") > 2:  # one item, not a list
            assert (await client.get(path, headers=theirs)).status_code == 404, path
    for method, path, body, _ in _writes(ids):
        if path.count("/") > 2:
            r = await _send(client, method, path, body, theirs, ids)
            assert r.status_code == 404, (method, path, r.text)
            assert r.headers["content-type"] == PROBLEM
    for path in ("/v1/teams", "/v1/positions", "/v1/members", "/v1/workflows"):
        assert (await client.get(path, headers=theirs)).json()["items"] == [], path
    overview = (await client.get("/v1/department/overview", headers=theirs)).json()
    assert overview["teams"] == [] and overview["totals"]["members"] == 0
    assert overview["department"]["configured"] is False

    mine = (await client.get("/v1/department/overview", headers=org.headers)).json()
    assert mine["totals"]["filled"] == 1 and mine["totals"]["teams"] == 2
    assert len((await client.get(f"/v1/workflows/{ids['workflow']}/steps", headers=org.headers)).json()["items"]) == 2


async def test_naming_another_organisations_rows_in_a_body_is_422_and_writes_nothing(client, org, other_org):
    ids = await _department(client, org)
    mine = await make_team(client, other_org, "Mine")
    my_position = await make_position(client, other_org, mine)
    my_workflow = (await make_workflow(client, other_org, mine, steps=["X"]))["id"]
    my_step = (await client.get(f"/v1/workflows/{my_workflow}/steps", headers=other_org.headers)).json()["items"][0]
    theirs = other_org.headers
    for method, path, body, field in (
        ("POST", "/v1/teams", {"name": "T", "parent_id": ids["team"]}, "parent_id"),
        ("PATCH", f"/v1/teams/{mine}", {"parent_id": ids["team"]}, "parent_id"),
        ("POST", "/v1/positions", {"title": "P", "team_id": ids["team"]}, "team_id"),
        ("PATCH", f"/v1/positions/{my_position}", {"team_id": ids["team"]}, "team_id"),
        ("POST", "/v1/members", {"name": "M", "email": "m@b.example", "position_id": ids["position"]}, "position_id"),
        ("POST", "/v1/workflows", {"name": "W", "owner_team_id": ids["team"]}, "owner_team_id"),
        ("PATCH", f"/v1/workflows/{my_workflow}", {"owner_team_id": ids["team"]}, "owner_team_id"),
        (
            "POST",
            "/v1/workflows",
            {"name": "W", "owner_team_id": mine, "steps": [{"name": "s", "owner_position_id": ids["position"]}]},
            "steps.0.owner_position_id",
        ),
        ("POST", f"/v1/workflows/{my_workflow}/steps", {"name": "S", "owner_team_id": ids["team"]}, "owner_team_id"),
        (
            "PATCH",
            f"/v1/workflows/{my_workflow}/steps/{my_step['id']}",
            {"owner_position_id": ids["position"]},
            "owner_position_id",
        ),
    ):
        r = await client.request(method, path, json=body, headers=theirs)
        assert r.status_code == 422, (method, path, r.text)
        assert r.json()["errors"][0]["location"] == f"body.{field}"
    r = await client.put(f"/v1/workflows/{my_workflow}/steps/order", json={"step_ids": ids["steps"]}, headers=theirs)
    assert r.status_code == 422

    assert [t["name"] for t in (await client.get("/v1/teams", headers=theirs)).json()["items"]] == ["Mine"]
    assert len((await client.get("/v1/positions", headers=theirs)).json()["items"]) == 1
    assert (await client.get(f"/v1/positions/{my_position}", headers=theirs)).json()["team_id"] == mine
    assert (await client.get("/v1/members", headers=theirs)).json()["items"] == []
    assert [w["id"] for w in (await client.get("/v1/workflows", headers=theirs)).json()["items"]] == [my_workflow]
    [step] = (await client.get(f"/v1/workflows/{my_workflow}/steps", headers=theirs)).json()["items"]
    assert step == my_step


async def test_malformed_input_is_a_422_problem_and_writes_nothing(client, org):
    team = await make_team(client, org, "Growth")
    for path, body in (
        ("/v1/teams", {"name": 123}),
        ("/v1/teams", {"name": "X", "parent_id": "not-a-uuid"}),
        ("/v1/teams", {"name": "X" * 201}),
        ("/v1/positions", {"title": "P", "team_id": team, "level": "intern"}),
        ("/v1/positions", {"title": "P", "team_id": team, "target_hire_date": "next spring"}),
        ("/v1/positions", {"title": "P", "team_id": team, "responsibilities": "everything"}),
        ("/v1/positions", {"title": "P", "team_id": team, "responsibilities": [""]}),
        ("/v1/positions", {"title": "P"}),
        ("/v1/members", {"name": "M", "email": "m@acme.example", "position_id": str(uuid.uuid4())}),
        ("/v1/workflows", {"name": "W", "owner_team_id": str(uuid.uuid4())}),
        ("/v1/workflows", {"name": "W", "owner_team_id": team, "steps": [{"name": "s", "sla_hours": -2}]}),
        ("/v1/workflows", {"name": "W", "owner_team_id": team, "tools": [{"name": "T", "category": "fax"}]}),
    ):
        r = await client.post(path, json=body, headers=org.headers)
        assert r.status_code == 422, (path, body, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["errors"], (path, body)
    r = await client.post(
        "/v1/teams", content=b"{not json", headers={**org.headers, "content-type": "application/json"}
    )
    assert r.status_code == 422

    assert [t["name"] for t in (await client.get("/v1/teams", headers=org.headers)).json()["items"]] == ["Growth"]
    for path in ("/v1/positions", "/v1/members", "/v1/workflows"):
        assert (await client.get(path, headers=org.headers)).json()["items"] == [], path


async def test_malformed_ids_in_paths_and_filters_are_422(client, org):
    for path in ("/v1/teams/nope", "/v1/positions?team_id=nope", "/v1/members?has_position=maybe", "/v1/workflows/1"):
        r = await client.get(path, headers=org.headers)
        assert r.status_code == 422, path
        assert r.headers["content-type"] == PROBLEM
