"""Every organisation starts with the standard metric catalogue and adds its own metrics; what KPIs read
is protected from changes that would break them."""

import pytest

from shared.metrics.catalogue import STANDARD_METRICS
from tests.test_kpis_definitions import add_kpi, kpi_body, list_all

PROBLEM = "application/problem+json"


def metric_body(key: str = "demo_requests", **fields) -> dict:
    return {"key": key, "name": "Demo requests", "unit": "count", **fields}


async def add_metric(client, headers, key: str = "demo_requests", **fields) -> dict:
    r = await client.post("/v1/metrics", json=metric_body(key, **fields), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def keys_of(client, headers, **params) -> list[str]:
    return [m["key"] for m in await list_all(client, "/v1/metrics", headers, **params)]


async def test_a_new_organisation_starts_with_the_standard_catalogue(client, org):
    metrics = await list_all(client, "/v1/metrics", org.headers)

    assert [m["key"] for m in metrics] == [m.key for m in STANDARD_METRICS]
    assert all(m["standard"] and m["kpi_count"] == 0 for m in metrics)
    spend = metrics[0]
    assert {k: spend[k] for k in ("key", "name", "unit", "aggregation", "allowed_dimensions")} == {
        "key": "spend",
        "name": "Spend",
        "unit": "currency",
        "aggregation": "sum",
        "allowed_dimensions": ["channel", "campaign"],
    }
    nps = next(m for m in metrics if m["key"] == "nps_score")
    assert (nps["unit"], nps["aggregation"], nps["allowed_dimensions"]) == ("score", "avg", ["segment"])


async def test_editor_adds_a_custom_metric_and_reads_it_by_key(client, org, keys):
    r = await client.post(
        "/v1/metrics",
        json=metric_body(description="Demo requests booked on the website"),
        headers=keys.headers("editor"),
    )

    assert r.status_code == 201, r.text
    metric = r.json()
    assert metric["key"] == "demo_requests" and metric["standard"] is False
    assert metric["aggregation"] == "sum" and metric["allowed_dimensions"] == ["channel", "campaign"]
    assert metric["kpi_count"] == 0
    read = await client.get("/v1/metrics/demo_requests", headers=keys.headers("viewer"))
    assert read.status_code == 200 and read.json() == metric
    assert await keys_of(client, org.headers, standard=False) == ["demo_requests"]
    assert "demo_requests" not in await keys_of(client, org.headers, standard=True)
    assert (await keys_of(client, org.headers))[-1] == "demo_requests"  # own metrics follow the standard ones


async def test_a_custom_metric_can_be_used_in_a_kpi_formula_with_its_own_dimensions(client, org):
    await add_metric(client, org.headers, allowed_dimensions=["channel", "region"])
    kpi = await add_kpi(client, org.headers, formula="spend / demo_requests", dimension_filter={"channel": "meta"})
    assert kpi["metrics"] == ["demo_requests", "spend"]
    demos = await add_kpi(
        client, org.headers, "Demos EMEA", formula="demo_requests", dimension_filter={"region": "emea"}
    )
    assert demos["dimension_filter"] == {"region": "emea"}
    # spend has no `region` dimension, so a KPI reading both cannot filter on it.
    r = await client.post(
        "/v1/kpis",
        json={
            **kpi_body("Cost per demo EMEA", formula="spend / demo_requests"),
            "dimension_filter": {"region": "emea"},
        },
        headers=org.headers,
    )
    assert r.status_code == 422
    assert "metric spend (allowed: campaign, channel)" in r.json()["detail"]


async def test_a_key_already_in_the_catalogue_is_409(client, org, other_org):
    for key in ("spend", "demo_requests"):
        if key == "demo_requests":
            await add_metric(client, org.headers)
        r = await client.post("/v1/metrics", json=metric_body(key), headers=org.headers)
        assert r.status_code == 409, key
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["existing_id"]
    await add_metric(client, other_org.headers)  # keys are unique per organisation
    assert await keys_of(client, org.headers, standard=False) == ["demo_requests"]


@pytest.mark.parametrize(
    "change",
    [
        {"key": "Demo_requests"},
        {"key": "1st_touch"},
        {"key": "demo-requests"},
        {"key": "d" * 65},
        {"key": ""},
        {"unit": "dollars"},
        {"unit": None},
        {"aggregation": "median"},
        {"allowed_dimensions": ["channel", "channel"]},
        {"allowed_dimensions": ["Channel"]},
        {"allowed_dimensions": "channel"},
        {"allowed_dimensions": [f"d{i}" for i in range(21)]},
        {"name": ""},
        {"standard": True},
    ],
)
async def test_bad_metric_input_is_a_422_problem_and_nothing_is_written(client, org, change):
    r = await client.post("/v1/metrics", json=metric_body(**change), headers=org.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert await keys_of(client, org.headers, standard=False) == []


async def test_metrics_filter_by_unit_aggregation_and_text(client, org):
    await add_metric(client, org.headers, "trial_signups", name="Trial sign-ups", aggregation="sum")
    assert await keys_of(client, org.headers, unit="currency") == ["spend", "revenue", "customer_lifetime_value"]
    assert await keys_of(client, org.headers, aggregation="avg") == [
        "customer_lifetime_value",
        "nps_score",
        "survey_awareness",
    ]
    assert await keys_of(client, org.headers, q="LEAD") == ["leads", "mql", "sql"]  # key or name, any case
    assert await keys_of(client, org.headers, q="sign-up") == ["trial_signups"]
    # `_` is a literal underscore, not a one-character wildcard.
    assert await keys_of(client, org.headers, q="r_") == ["customer_lifetime_value"]
    assert await keys_of(client, org.headers, unit="count", standard=False) == ["trial_signups"]
    for bad in ("unit=dollars", "aggregation=median", "standard=perhaps"):
        assert (await client.get(f"/v1/metrics?{bad}", headers=org.headers)).status_code == 422, bad


async def test_the_catalogue_pages_by_cursor_without_gaps_or_repeats(client, org):
    await add_metric(client, org.headers)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/metrics", params=params, headers=org.headers)).json()
        seen += [m["key"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 4
    assert seen == [m.key for m in STANDARD_METRICS] + ["demo_requests"]


async def test_patch_changes_name_description_and_dimensions_but_never_the_key(client, org):
    await add_metric(client, org.headers)
    r = await client.patch(
        "/v1/metrics/demo_requests",
        json={"name": "Demo requests (web)", "description": "From the site", "allowed_dimensions": ["region"]},
        headers=org.headers,
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["name"], changed["description"], changed["allowed_dimensions"]) == (
        "Demo requests (web)",
        "From the site",
        ["region"],
    )
    for body in ({"key": "demos"}, {"standard": True}, {"name": None}, {"allowed_dimensions": None}):
        r = await client.patch("/v1/metrics/demo_requests", json=body, headers=org.headers)
        assert r.status_code == 422, body
    assert (await client.get("/v1/metrics/demo_requests", headers=org.headers)).json() == changed


async def test_unit_or_aggregation_change_only_while_no_kpi_reads_the_metric(client, org):
    await add_metric(client, org.headers)
    kpi = await add_kpi(client, org.headers, "Cost per demo", formula="spend / demo_requests")

    for body in ({"unit": "score"}, {"aggregation": "last"}, {"unit": "score", "aggregation": "last"}):
        r = await client.patch("/v1/metrics/demo_requests", json=body, headers=org.headers)
        assert r.status_code == 409, body
        assert r.json()["kpis"] == [{"id": kpi["id"], "name": "Cost per demo"}]
        assert r.json()["referenced_by"] == {"kpis": 1}
        assert '1 KPI read it: "Cost per demo"' in r.json()["detail"]
    # Sending the current values is not a change.
    same = await client.patch(
        "/v1/metrics/demo_requests", json={"unit": "count", "aggregation": "sum"}, headers=org.headers
    )
    assert same.status_code == 200

    # An unused metric, standard or not, may change: per-day reach is not additive, so take its maximum.
    r = await client.patch("/v1/metrics/reach", json={"aggregation": "max"}, headers=org.headers)
    assert r.status_code == 200 and r.json()["aggregation"] == "max"
    await client.delete(f"/v1/kpis/{kpi['id']}", headers=org.headers)
    r = await client.patch("/v1/metrics/demo_requests", json={"aggregation": "last"}, headers=org.headers)
    assert r.status_code == 200 and r.json()["aggregation"] == "last"


async def test_dropping_a_dimension_a_kpi_filters_on_is_409_naming_the_kpi(client, org):
    await add_kpi(client, org.headers, "CPC Meta", dimension_filter={"channel": "meta"})
    await add_kpi(client, org.headers, "CPC all")

    r = await client.patch("/v1/metrics/clicks", json={"allowed_dimensions": ["campaign"]}, headers=org.headers)
    assert r.status_code == 409
    assert [k["name"] for k in r.json()["kpis"]] == ["CPC Meta"]
    assert "cannot drop the dimension channel" in r.json()["detail"]

    r = await client.patch(
        "/v1/metrics/clicks", json={"allowed_dimensions": ["channel", "device"]}, headers=org.headers
    )
    assert r.status_code == 200 and r.json()["allowed_dimensions"] == ["channel", "device"]
    assert r.json()["kpi_count"] == 2


async def test_standard_metrics_cannot_be_deleted(client, org):
    r = await client.delete("/v1/metrics/spend", headers=org.headers)
    assert r.status_code == 409
    assert "standard catalogue" in r.json()["detail"]
    assert (await client.get("/v1/metrics/spend", headers=org.headers)).status_code == 200


async def test_a_metric_kpis_read_cannot_be_deleted_and_the_409_names_them(client, org):
    await add_metric(client, org.headers)
    first = await add_kpi(client, org.headers, "Cost per demo", formula="spend / demo_requests")
    second = await add_kpi(client, org.headers, "Demos", formula="demo_requests", unit="count")

    r = await client.delete("/v1/metrics/demo_requests", headers=org.headers)

    assert r.status_code == 409
    problem = r.json()
    assert problem["referenced_by"] == {"kpis": 2}
    assert problem["kpis"] == [{"id": first["id"], "name": "Cost per demo"}, {"id": second["id"], "name": "Demos"}]
    assert "2 KPIs read it" in problem["detail"] and "Change their formulas or delete them first" in problem["detail"]
    assert (await client.get("/v1/metrics/demo_requests", headers=org.headers)).json()["kpi_count"] == 2

    for kpi in (first, second):
        assert (await client.delete(f"/v1/kpis/{kpi['id']}", headers=org.headers)).status_code == 204
    assert (await client.delete("/v1/metrics/demo_requests", headers=org.headers)).status_code == 204
    assert (await client.get("/v1/metrics/demo_requests", headers=org.headers)).status_code == 404
    r = await client.post("/v1/kpis", json=kpi_body("Demos", formula="demo_requests"), headers=org.headers)
    assert r.status_code == 422 and r.json()["unknown_metrics"] == ["demo_requests"]


async def test_a_metric_lists_the_kpis_it_touches(client, org):
    await add_kpi(client, org.headers, "CPC")
    await add_kpi(client, org.headers, "CTR", formula="clicks / impressions * 100", unit="percent")
    await add_kpi(client, org.headers, "ROAS", formula="revenue / spend", unit="ratio", direction="higher_is_better")

    touched = await list_all(client, "/v1/metrics/clicks/kpis", org.headers)

    assert [k["name"] for k in touched] == ["CPC", "CTR"]
    assert (await client.get("/v1/metrics/clicks", headers=org.headers)).json()["kpi_count"] == 2
    counts = {m["key"]: m["kpi_count"] for m in await list_all(client, "/v1/metrics", org.headers)}
    assert (counts["spend"], counts["clicks"], counts["impressions"], counts["leads"]) == (2, 2, 1, 0)
    assert [k["name"] for k in await list_all(client, "/v1/metrics/leads/kpis", org.headers)] == []


async def test_an_unknown_metric_key_is_404(client, org):
    for r in (
        await client.get("/v1/metrics/nope", headers=org.headers),
        await client.patch("/v1/metrics/nope", json={"name": "x"}, headers=org.headers),
        await client.delete("/v1/metrics/nope", headers=org.headers),
        await client.get("/v1/metrics/nope/kpis", headers=org.headers),
    ):
        assert r.status_code == 404, r.request.method
        assert r.headers["content-type"] == PROBLEM
        assert "No metric 'nope'" in r.json()["detail"]
