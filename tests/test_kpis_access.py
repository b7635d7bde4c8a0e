"""Who may do what with metrics, KPIs and templates, and what another organisation sees."""

from tests.test_kpis_definitions import add_kpi, add_member, add_objective, add_team, kpi_body, list_all, names
from tests.test_metrics_catalogue import add_metric, metric_body

PROBLEM = "application/problem+json"


async def writes(client, headers, kpi_id: str) -> list:
    return [
        await client.post("/v1/metrics", json=metric_body("trial_signups"), headers=headers),
        await client.patch("/v1/metrics/demo_requests", json={"name": "Renamed"}, headers=headers),
        await client.delete("/v1/metrics/demo_requests", headers=headers),
        await client.post("/v1/kpis", json=kpi_body("Other"), headers=headers),
        await client.patch(f"/v1/kpis/{kpi_id}", json={"name": "Renamed"}, headers=headers),
        await client.delete(f"/v1/kpis/{kpi_id}", headers=headers),
        await client.post("/v1/kpi-templates/cpa/kpis", json={}, headers=headers),
    ]


async def test_editors_make_every_change(client, org, keys):
    await add_metric(client, org.headers)
    kpi = await add_kpi(client, org.headers)
    statuses = [r.status_code for r in await writes(client, keys.headers("editor"), kpi["id"])]
    assert statuses == [201, 200, 204, 201, 200, 204, 201]


async def test_another_organisations_kpis_and_metrics_are_not_found(client, org, other_org):
    await add_metric(client, org.headers)
    kpi = await add_kpi(client, org.headers, formula="spend / demo_requests")
    b = other_org.headers

    for r in (
        await client.get(f"/v1/kpis/{kpi['id']}", headers=b),
        await client.patch(f"/v1/kpis/{kpi['id']}", json={"name": "Hijacked"}, headers=b),
        await client.delete(f"/v1/kpis/{kpi['id']}", headers=b),
        await client.get("/v1/metrics/demo_requests", headers=b),
        await client.patch("/v1/metrics/demo_requests", json={"name": "Hijacked"}, headers=b),
        await client.delete("/v1/metrics/demo_requests", headers=b),
        await client.get("/v1/metrics/demo_requests/kpis", headers=b),
    ):
        assert r.status_code == 404, (r.request.method, r.request.url.path)
        assert r.headers["content-type"] == PROBLEM
    assert await names(client, b) == []
    assert await list_all(client, "/v1/metrics/spend/kpis", b) == []
    assert "demo_requests" not in [m["key"] for m in await list_all(client, "/v1/metrics", b)]
    # Org A's own metric and KPI are untouched, and its metric counts only its own KPI.
    assert (await client.get(f"/v1/kpis/{kpi['id']}", headers=org.headers)).json() == kpi
    await add_kpi(client, b, "CPC B")
    assert (await client.get("/v1/metrics/spend", headers=org.headers)).json()["kpi_count"] == 1


async def test_naming_another_organisations_rows_in_a_kpi_is_422_and_writes_nothing(client, org, other_org):
    await add_metric(client, org.headers)
    team_id = await add_team(client, org.headers)
    member_id = await add_member(client, org.headers)
    objective = await add_objective(client, org.headers)
    b = other_org.headers
    mine = await add_kpi(client, b, "Mine")

    for field, body in (
        ("body.owner_team_id", kpi_body(owner_team_id=team_id)),
        ("body.owner_member_id", kpi_body(owner_member_id=member_id)),
        ("body.objectives.0.objective_id", kpi_body(objectives=[{"objective_id": objective["id"]}])),
    ):
        r = await client.post("/v1/kpis", json=body, headers=b)
        assert r.status_code == 422, field
        assert [e["location"] for e in r.json()["errors"]] == [field]
        assert r.json()["errors"][0]["type"] == "unknown_reference"
        patch = {k: v for k, v in body.items() if k in ("owner_team_id", "owner_member_id", "objectives")}
        r = await client.patch(f"/v1/kpis/{mine['id']}", json=patch, headers=b)
        assert r.status_code == 422, field
    r = await client.post("/v1/kpis", json=kpi_body(formula="spend / demo_requests"), headers=b)
    assert r.status_code == 422 and r.json()["unknown_metrics"] == ["demo_requests"]

    assert await names(client, b) == ["Mine"]
    assert (await client.get(f"/v1/kpis/{mine['id']}", headers=b)).json() == mine
    assert await list_all(client, "/v1/kpis", org.headers) == []


async def test_malformed_ids_in_paths_are_422(client, org):
    for path in ("/v1/kpis/not-a-uuid", "/v1/kpis?owner_team_id=nope"):
        r = await client.get(path, headers=org.headers)
        assert r.status_code == 422, path
        assert r.headers["content-type"] == PROBLEM


async def test_a_team_or_person_owning_a_kpi_cannot_be_deleted_until_the_owner_changes(client, org):
    team_id = await add_team(client, org.headers)
    member_id = await add_member(client, org.headers)
    kpi = await add_kpi(client, org.headers, owner_team_id=team_id, owner_member_id=member_id)

    for path in (f"/v1/teams/{team_id}", f"/v1/members/{member_id}"):
        r = await client.delete(path, headers=org.headers)
        assert r.status_code == 409, path
        assert r.json()["referenced_by"] == {"kpis": 1}

    r = await client.patch(
        f"/v1/kpis/{kpi['id']}", json={"owner_team_id": None, "owner_member_id": None}, headers=org.headers
    )
    assert r.status_code == 200
    assert (await client.delete(f"/v1/teams/{team_id}", headers=org.headers)).status_code == 204
    assert (await client.delete(f"/v1/members/{member_id}", headers=org.headers)).status_code == 204
