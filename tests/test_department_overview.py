"""A manager sees the whole department in one call: the team tree with its filled and open positions."""

import uuid

from tests.test_department_structure import make_member, make_position, make_team


def _hc(filled, open_):
    return {"filled": filled, "open": open_, "total": filled + open_}


def _by_name(nodes):
    return {node["name"]: node for node in nodes}


async def test_overview_of_a_new_organisation_is_empty_and_not_configured(client, org):
    r = await client.get("/v1/department/overview", headers=org.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["department"]["configured"] is False
    assert body["teams"] == []
    assert body["totals"] == {
        "teams": 0,
        "positions": 0,
        "filled": 0,
        "open": 0,
        "members": 0,
        "members_without_position": 0,
    }


async def test_overview_counts_filled_and_open_positions_per_team_and_with_subteams(client, org):
    await client.put("/v1/department", json={"name": "Marketing", "structure_type": "functional"}, headers=org.headers)
    growth = await make_team(client, org, "Growth")
    paid = await make_team(client, org, "Paid", growth)
    social = await make_team(client, org, "Social", paid)
    await make_team(client, org, "Content", growth)
    brand = await make_team(client, org, "Brand")

    filled = {growth: 1, paid: 1, brand: 1}
    open_ = {paid: 1, social: 2}
    n = 0
    for team, count in filled.items():
        for _ in range(count):
            n += 1
            position = await make_position(client, org, team, f"Filled {n}")
            await make_member(client, org, f"Person {n}", f"p{n}@acme.example", position)
    for team, count in open_.items():
        for i in range(count):
            await make_position(client, org, team, f"Open {i}")
    await make_member(client, org, "Between roles", "between@acme.example")
    await make_member(client, org, "Contractor", "contractor@acme.example")

    body = (await client.get("/v1/department/overview", headers=org.headers)).json()
    assert body["department"]["name"] == "Marketing"
    assert body["totals"] == {
        "teams": 5,
        "positions": 6,
        "filled": 3,
        "open": 3,
        "members": 5,
        "members_without_position": 2,
    }
    assert [t["name"] for t in body["teams"]] == ["Brand", "Growth"], "top-level teams, by name"
    top = _by_name(body["teams"])
    assert top["Brand"]["headcount"] == _hc(1, 0)
    assert top["Brand"]["headcount_with_subteams"] == _hc(1, 0)
    assert top["Brand"]["children"] == []

    g = top["Growth"]
    assert g["headcount"] == _hc(1, 0)
    assert g["headcount_with_subteams"] == _hc(2, 3)
    assert [c["name"] for c in g["children"]] == ["Content", "Paid"]
    children = _by_name(g["children"])
    assert children["Content"]["headcount"] == _hc(0, 0)
    assert children["Content"]["headcount_with_subteams"] == _hc(0, 0)
    p = children["Paid"]
    assert p["parent_id"] == growth
    assert p["headcount"] == _hc(1, 1)
    assert p["headcount_with_subteams"] == _hc(1, 3)
    [s] = p["children"]
    assert (s["id"], s["headcount"], s["headcount_with_subteams"], s["children"]) == (social, _hc(0, 2), _hc(0, 2), [])


async def test_overview_costs_the_same_queries_for_3_and_20_teams(client, org, other_org, count_queries):
    async def build(handle, n_teams):
        parents = [None]
        for i in range(n_teams):
            team = await make_team(client, handle, f"T{i}", parents[i // 2])  # a binary tree
            parents.append(team)
            position = await make_position(client, handle, team)
            await make_position(client, handle, team)
            await make_member(client, handle, f"M{i}", f"m{i}.{uuid.uuid4().hex[:6]}@acme.example", position)

    async def count_for(handle):
        with count_queries as q:
            r = await client.get("/v1/department/overview", headers=handle.headers)
        assert r.status_code == 200
        return q.count, r.json()["totals"]

    await build(org, 3)
    await build(other_org, 20)
    small, small_totals = await count_for(org)
    large, large_totals = await count_for(other_org)
    assert (small_totals["teams"], large_totals["teams"]) == (3, 20)
    assert large_totals["filled"] == 20 and large_totals["open"] == 20
    assert small == large
