"""A KPI measures objectives: linking one makes the objective's SMART check *measurable*."""

from datetime import UTC, datetime, timedelta

from tests.test_kpis_definitions import add_kpi, add_objective, list_all, names

TODAY = datetime.now(UTC).date()


async def smart_objective(client, headers) -> dict:
    """An objective that passes every SMART letter except *measurable*, which waits for a KPI."""
    goal = await client.post("/v1/business-goals", json={"title": "Grow online revenue 30% in 2027"}, headers=headers)
    return await add_objective(
        client,
        headers,
        "Raise monthly online orders from returning customers to 12,000",
        business_goal_id=goal.json()["id"],
        unit="orders/month",
        baseline_value="9000",
        target_value="12000",
        start_date=TODAY.isoformat(),
        deadline=(TODAY + timedelta(days=364)).isoformat(),
        status="active",
    )


async def measurable(client, headers, objective_id: str) -> dict:
    r = await client.get(f"/v1/objectives/{objective_id}", headers=headers)
    assert r.status_code == 200
    return r.json()["smart"]["measurable"] | {"overall": r.json()["smart"]["overall"]}


async def test_linking_a_kpi_makes_the_objective_measurable(client, org):
    objective = await smart_objective(client, org.headers)
    assert await measurable(client, org.headers, objective["id"]) == {
        "verdict": "warn",
        "reason": "target 12000 orders/month set, but no KPI is linked yet to measure it",
        "overall": "warn",
    }

    await add_kpi(
        client,
        org.headers,
        "Returning orders",
        formula="conversions",
        unit="count",
        direction="higher_is_better",
        objectives=[{"objective_id": objective["id"]}],
    )

    assert await measurable(client, org.headers, objective["id"]) == {
        "verdict": "pass",
        "reason": "target 12000 orders/month, measured by 1 KPI",
        "overall": "pass",
    }
    listed = await list_all(client, "/v1/objectives", org.headers, smart="pass")
    assert [o["id"] for o in listed] == [objective["id"]]


async def test_the_check_counts_every_linked_kpi_and_turns_back_when_they_go(client, org):
    objective = await smart_objective(client, org.headers)
    link = [{"objective_id": objective["id"]}]
    first = await add_kpi(client, org.headers, "CPC", objectives=link)
    second = await add_kpi(client, org.headers, "CPA", formula="spend / conversions", objectives=link)
    assert (await measurable(client, org.headers, objective["id"]))["reason"].endswith("measured by 2 KPIs")

    r = await client.patch(f"/v1/kpis/{first['id']}", json={"objectives": []}, headers=org.headers)
    assert r.status_code == 200 and r.json()["objectives"] == []
    assert (await measurable(client, org.headers, objective["id"]))["reason"].endswith("measured by 1 KPI")

    assert (await client.delete(f"/v1/kpis/{second['id']}", headers=org.headers)).status_code == 204
    assert (await measurable(client, org.headers, objective["id"]))["verdict"] == "warn"


async def test_a_patch_replaces_every_link_with_its_weight(client, org):
    a = await add_objective(client, org.headers, "Raise online orders to 12,000 a month")
    b = await add_objective(client, org.headers, "Lower the cost per lead to 40 EUR")
    kpi = await add_kpi(client, org.headers, objectives=[{"objective_id": a["id"]}])
    assert kpi["objectives"] == [{"objective_id": a["id"], "weight": "1"}]

    r = await client.patch(
        f"/v1/kpis/{kpi['id']}",
        json={"objectives": [{"objective_id": b["id"], "weight": "2.5"}, {"objective_id": a["id"], "weight": 0.25}]},
        headers=org.headers,
    )

    assert r.status_code == 200, r.text
    expected = sorted(
        [{"objective_id": a["id"], "weight": "0.25"}, {"objective_id": b["id"], "weight": "2.5"}],
        key=lambda link: link["objective_id"],
    )
    assert r.json()["objectives"] == expected
    assert r.json()["updated_at"] > kpi["updated_at"]
    assert (await client.get(f"/v1/kpis/{kpi['id']}", headers=org.headers)).json()["objectives"] == expected
    assert await names(client, org.headers, objective_id=b["id"]) == ["CPC"]

    # A PATCH without `objectives` keeps them.
    r = await client.patch(f"/v1/kpis/{kpi['id']}", json={"frequency": "weekly"}, headers=org.headers)
    assert r.json()["objectives"] == expected


async def test_deleting_an_objective_removes_its_links_but_keeps_the_kpi(client, org):
    objective = await add_objective(client, org.headers)
    kept = await add_objective(client, org.headers, "Lower the cost per lead to 40 EUR")
    kpi = await add_kpi(
        client, org.headers, objectives=[{"objective_id": objective["id"]}, {"objective_id": kept["id"]}]
    )

    assert (await client.delete(f"/v1/objectives/{objective['id']}", headers=org.headers)).status_code == 204

    read = (await client.get(f"/v1/kpis/{kpi['id']}", headers=org.headers)).json()
    assert read["objectives"] == [{"objective_id": kept["id"], "weight": "1"}]
    assert await names(client, org.headers, objective_id=objective["id"]) == []


async def test_a_patch_link_without_a_weight_weighs_1_as_on_create(client, org):
    objective = await add_objective(client, org.headers, "Raise online orders to 12,000 a month")
    kpi = await add_kpi(client, org.headers)

    r = await client.patch(
        f"/v1/kpis/{kpi['id']}", json={"objectives": [{"objective_id": objective["id"]}]}, headers=org.headers
    )

    assert r.status_code == 200, r.text
    assert r.json()["objectives"] == [{"objective_id": objective["id"], "weight": "1"}]
