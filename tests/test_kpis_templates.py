"""Editors start from the library of standard marketing KPIs and create one with a single call."""

from sqlalchemy import delete

from shared.db.scoping import bind_org
from shared.kpis.templates import KPI_TEMPLATES
from shared.metrics.models import MetricDefinition
from tests.test_kpis_definitions import add_objective, add_team, list_all, names

PROBLEM = "application/problem+json"


async def remove_metric(state, org, key: str) -> None:
    """An organisation without one of the standard metrics (one created before the catalogue grew)."""
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        await session.execute(delete(MetricDefinition).where(MetricDefinition.key == key))
        await session.commit()


async def test_the_library_lists_every_template_with_what_it_measures(client, keys):
    r = await client.get("/v1/kpi-templates", headers=keys.headers("viewer"))

    assert r.status_code == 200
    body = r.json()
    assert body["next_cursor"] is None
    assert [t["key"] for t in body["items"]] == [t.key for t in KPI_TEMPLATES]
    cpc = body["items"][1]
    assert cpc == {
        "key": "cpc",
        "name": "CPC",
        "category": "output",
        "kind": "quantitative",
        "formula": "spend / clicks",
        "unit": "currency",
        "direction": "lower_is_better",
        "suggested_pacing": "none",
        "display_format": "currency:2",
        "explanation": "Cost per click: what a visit from an ad costs.",
        "metrics": ["clicks", "spend"],
        "missing_metrics": [],
    }
    assert all(t["missing_metrics"] == [] and t["explanation"] for t in body["items"])


async def test_templates_filter_by_category_and_read_one_by_key(client, org):
    inputs = await list_all(client, "/v1/kpi-templates", org.headers, category="input")
    assert [t["key"] for t in inputs] == ["media_spend"]
    assert inputs[0]["suggested_pacing"] == "linear"
    impact = await list_all(client, "/v1/kpi-templates", org.headers, category="impact")
    assert {t["key"] for t in impact} == {
        "roas",
        "cac",
        "ltv_cac",
        "marketing_revenue",
        "share_of_voice",
        "nps",
        "brand_awareness",
    }

    r = await client.get("/v1/kpi-templates/ltv_cac", headers=org.headers)
    assert r.status_code == 200
    assert r.json()["metrics"] == ["customer_lifetime_value", "new_customers", "spend"]
    assert (await client.get("/v1/kpi-templates/nps", headers=org.headers)).json()["kind"] == "qualitative"

    r = await client.get("/v1/kpi-templates/cpx", headers=org.headers)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert (await client.get("/v1/kpi-templates?category=throughput", headers=org.headers)).status_code == 422


async def test_editor_creates_a_kpi_from_a_template_with_their_own_choices(client, org, keys):
    editor = keys.headers("editor")
    team_id = await add_team(client, editor)
    objective = await add_objective(client, editor)

    r = await client.post(
        "/v1/kpi-templates/cpc/kpis",
        json={
            "name": "CPC Meta",
            "dimension_filter": {"channel": "meta"},
            "frequency": "weekly",
            "owner_team_id": team_id,
            "objectives": [{"objective_id": objective["id"], "weight": 2}],
        },
        headers=editor,
    )

    assert r.status_code == 201, r.text
    kpi = r.json()
    assert kpi["template_key"] == "cpc"
    assert (kpi["name"], kpi["formula"], kpi["category"], kpi["unit"], kpi["direction"], kpi["display_format"]) == (
        "CPC Meta",
        "spend / clicks",
        "output",
        "currency",
        "lower_is_better",
        "currency:2",
    )
    assert kpi["description"] == "Cost per click: what a visit from an ad costs."
    assert kpi["dimension_filter"] == {"channel": "meta"} and kpi["frequency"] == "weekly"
    assert kpi["owner_team_id"] == team_id
    assert kpi["objectives"] == [{"objective_id": objective["id"], "weight": "2"}]
    assert kpi["metrics"] == ["clicks", "spend"]
    assert (await client.get(f"/v1/kpis/{kpi['id']}", headers=editor)).json() == kpi
    assert await names(client, editor, template_key="cpc") == ["CPC Meta"]
    assert await names(client, editor, metric="clicks") == ["CPC Meta"]


async def test_without_a_body_a_template_gives_a_kpi_with_every_default(client, org):
    r = await client.post("/v1/kpi-templates/marketing_revenue/kpis", headers=org.headers)

    assert r.status_code == 201, r.text
    kpi = r.json()
    assert (kpi["name"], kpi["frequency"], kpi["kind"], kpi["dimension_filter"], kpi["objectives"]) == (
        "Marketing-sourced revenue",
        "monthly",
        "quantitative",
        {},
        [],
    )
    # The same template again takes the same name: 409, until another name is given.
    again = await client.post("/v1/kpi-templates/marketing_revenue/kpis", json={}, headers=org.headers)
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    other = await client.post(
        "/v1/kpi-templates/marketing_revenue/kpis", json={"name": "Revenue EMEA"}, headers=org.headers
    )
    assert other.status_code == 201
    nps = await client.post("/v1/kpi-templates/nps/kpis", headers=org.headers)
    assert nps.status_code == 201 and nps.json()["kind"] == "qualitative"


async def test_a_template_reading_a_metric_the_organisation_lacks_is_422_naming_it(client, org, state):
    await remove_metric(state, org, "clicks")

    cpc = (await client.get("/v1/kpi-templates/cpc", headers=org.headers)).json()
    assert cpc["missing_metrics"] == ["clicks"]
    lacking = [t["key"] for t in await list_all(client, "/v1/kpi-templates", org.headers) if t["missing_metrics"]]
    assert lacking == ["cpc", "ctr", "conversion_rate"]

    r = await client.post("/v1/kpi-templates/cpc/kpis", headers=org.headers)

    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["unknown_metrics"] == ["clicks"]
    assert r.json()["errors"][0]["location"] == "path.key"
    assert await names(client, org.headers) == []
    assert (await client.post("/v1/kpi-templates/cpa/kpis", headers=org.headers)).status_code == 201


async def test_a_bad_template_request_is_refused_and_writes_nothing(client, org, other_org):
    foreign_team = await add_team(client, other_org.headers)
    for key, body, status in (
        ("cpx", {}, 404),
        ("nps", {"dimension_filter": {"channel": "meta"}}, 422),  # nps_score has only `segment`
        ("cpc", {"formula": "spend"}, 422),  # the formula is the template's
        ("cpc", {"owner_team_id": foreign_team}, 422),
        ("cpc", {"frequency": "hourly"}, 422),
        ("cpc", {"objectives": [{"objective_id": foreign_team}]}, 422),
    ):
        r = await client.post(f"/v1/kpi-templates/{key}/kpis", json=body, headers=org.headers)
        assert r.status_code == status, (key, body, r.text)
        assert r.headers["content-type"] == PROBLEM
    assert await names(client, org.headers) == []
