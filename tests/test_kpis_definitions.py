"""Editors define KPIs as formulas over catalogue metrics; the formula is checked on write and its metric
dependencies are kept for the engine. (The helpers at the top are shared by tests/test_kpis_*.py.)"""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shared.db.scoping import bind_org
from shared.kpis.models import Kpi, KpiMetric, KpiTarget, KpiTargetRevision, ObjectiveKpi

PROBLEM = "application/problem+json"


def kpi_body(name: str = "CPC", **fields) -> dict:
    return {
        "name": name,
        "category": "output",
        "formula": "spend / clicks",
        "unit": "currency",
        "direction": "lower_is_better",
        **fields,
    }


async def add_kpi(client, headers, name: str = "CPC", **fields) -> dict:
    r = await client.post("/v1/kpis", json=kpi_body(name, **fields), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def add_team(client, headers, name: str = "Paid social") -> str:
    r = await client.post("/v1/teams", json={"name": name}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def add_member(client, headers, name: str = "Jane Doe") -> str:
    email = f"{name.lower().replace(' ', '.')}@acme.example"
    r = await client.post("/v1/members", json={"name": name, "email": email}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def add_objective(client, headers, statement: str = "Raise monthly online orders to 12,000", **fields) -> dict:
    r = await client.post("/v1/objectives", json={"statement": statement, **fields}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def list_all(client, path: str, headers, **params) -> list[dict]:
    r = await client.get(path, params={"limit": 200, **params}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return r.json()["items"]


async def names(client, headers, **params) -> list[str]:
    return [k["name"] for k in await list_all(client, "/v1/kpis", headers, **params)]


async def count_rows(state, org, model, *where) -> int:
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def add_target(state, org, kpi_id: str) -> uuid.UUID:
    """A target with one revision, written directly (the targets API is another issue's)."""
    async with state.db.sessionmaker() as session:
        bind_org(session, org.id)
        target = KpiTarget(
            kpi_id=uuid.UUID(kpi_id),
            period_kind="month",
            period_label="2027-01",
            start_date=date(2027, 1, 1),
            end_date=date(2027, 1, 31),
            target_value=Decimal("2.5"),
            threshold_mode="absolute",
            pacing="none",
        )
        session.add(target)
        await session.flush()
        session.add(KpiTargetRevision(target_id=target.id, reason="first", old={}, new={"target_value": "2.5"}))
        await session.commit()
        return target.id


# ---------------------------------------------------------------- create and read


async def test_editor_defines_a_kpi_and_reads_it_back(client, org, keys):
    editor = keys.headers("editor")
    team_id = await add_team(client, editor)
    member_id = await add_member(client, editor)
    objective = await add_objective(client, editor)
    body = kpi_body(
        "CPC Meta",
        description="What a click from Meta ads costs",
        display_format="currency:2",
        frequency="weekly",
        dimension_filter={"channel": "meta"},
        owner_team_id=team_id,
        owner_member_id=member_id,
        objectives=[{"objective_id": objective["id"], "weight": "1.5"}],
    )

    r = await client.post("/v1/kpis", json=body, headers=editor)

    assert r.status_code == 201, r.text
    kpi = r.json()
    assert {k: kpi[k] for k in body if k != "objectives"} == {k: v for k, v in body.items() if k != "objectives"}
    assert kpi["kind"] == "quantitative" and kpi["template_key"] is None
    assert kpi["metrics"] == ["clicks", "spend"]
    assert kpi["objectives"] == [{"objective_id": objective["id"], "weight": "1.5"}]
    read = await client.get(f"/v1/kpis/{kpi['id']}", headers=keys.headers("viewer"))
    assert read.status_code == 200 and read.json() == kpi


async def test_a_kpi_takes_the_defaults_for_what_it_leaves_out(client, org):
    kpi = await add_kpi(client, org.headers)
    assert kpi["kind"] == "quantitative" and kpi["frequency"] == "monthly"
    assert kpi["dimension_filter"] == {} and kpi["objectives"] == []
    assert kpi["description"] is None and kpi["display_format"] is None and kpi["owner_team_id"] is None


@pytest.mark.parametrize(
    ("formula", "metrics"),
    [
        ("spend / clicks", ["clicks", "spend"]),
        ("(revenue - spend) / spend", ["revenue", "spend"]),
        ("clicks / impressions * 100", ["clicks", "impressions"]),
        ("customer_lifetime_value / (spend / new_customers)", ["customer_lifetime_value", "new_customers", "spend"]),
        ("  nps_score  ", ["nps_score"]),
    ],
)
async def test_a_formula_is_stored_with_the_metrics_it_reads(client, org, formula, metrics):
    kpi = await add_kpi(client, org.headers, formula=formula)
    assert kpi["formula"] == formula.strip()
    assert kpi["metrics"] == metrics
    for key in metrics:
        assert await names(client, org.headers, metric=key) == ["CPC"]


# ---------------------------------------------------------------- formula validation


@pytest.mark.parametrize(
    ("formula", "message", "position"),
    [
        ("spend / (clicks", "a '(' is never closed (at character 9)", 8),
        ("spend * / clicks", "expected a number, a metric or '(' but found '/' (at character 9)", 8),
        ("spend $ clicks", "unexpected character '$' (at character 7)", 6),
        ("Spend / clicks", "unexpected character 'S' (at character 1)", 0),
        ("spend clicks", "unexpected 'clicks' (at character 7)", 6),
    ],
)
async def test_a_formula_that_does_not_parse_is_422_with_the_parser_message_and_position(
    client, org, formula, message, position
):
    r = await client.post("/v1/kpis", json=kpi_body(formula=formula), headers=org.headers)

    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["detail"] == f"body.formula: {message}"
    assert problem["position"] == position
    assert problem["errors"] == [{"location": "body.formula", "message": message, "type": "formula_syntax"}]
    assert await names(client, org.headers) == []


async def test_unknown_metrics_are_422_naming_every_one_of_them(client, org):
    r = await client.post("/v1/kpis", json=kpi_body(formula="spend / clickz + foo * spend"), headers=org.headers)

    assert r.status_code == 422
    problem = r.json()
    assert problem["unknown_metrics"] == ["clickz", "foo"]
    assert problem["errors"][0]["location"] == "body.formula"
    assert "unknown metrics clickz, foo" in problem["detail"]
    assert await names(client, org.headers) == []


async def test_a_formula_of_numbers_only_is_422(client, org):
    r = await client.post("/v1/kpis", json=kpi_body(formula="100 * 2"), headers=org.headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["type"] == "formula_no_metric"


async def test_a_dimension_filter_must_be_allowed_by_every_metric_the_formula_reads(client, org):
    # nps_score allows only `segment`; spend and revenue allow `channel` and `campaign`.
    r = await client.post(
        "/v1/kpis",
        json=kpi_body(formula="(revenue - spend) / spend", dimension_filter={"segment": "smb", "channel": "meta"}),
        headers=org.headers,
    )
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["location"] == "body.dimension_filter.segment"
    assert error["type"] == "dimension_not_allowed"
    assert "revenue (allowed: campaign, channel), spend (allowed: campaign, channel)" in error["message"]

    r = await client.post(
        "/v1/kpis", json=kpi_body(formula="nps_score", dimension_filter={"channel": "meta"}), headers=org.headers
    )
    assert r.status_code == 422
    assert "'channel' is not an allowed dimension of metric nps_score (allowed: segment)" in r.json()["detail"]

    for bad in ({"channel": 5}, {"channel": ""}, {"Channel": "meta"}, {"channel": ["meta"]}):
        r = await client.post("/v1/kpis", json=kpi_body(dimension_filter=bad), headers=org.headers)
        assert r.status_code == 422, bad
    assert await names(client, org.headers) == []

    ok = await add_kpi(client, org.headers, formula="nps_score", dimension_filter={"segment": "smb"})
    assert ok["dimension_filter"] == {"segment": "smb"}


# ---------------------------------------------------------------- changes


async def test_the_metric_dependencies_are_replaced_when_the_formula_changes(client, org, state):
    kpi = await add_kpi(client, org.headers)
    await add_kpi(client, org.headers, "CTR", formula="clicks / impressions * 100", unit="percent")
    assert await names(client, org.headers, metric="clicks") == ["CPC", "CTR"]

    r = await client.patch(f"/v1/kpis/{kpi['id']}", json={"formula": "spend / conversions"}, headers=org.headers)

    assert r.status_code == 200, r.text
    assert r.json()["metrics"] == ["conversions", "spend"]
    assert await names(client, org.headers, metric="clicks") == ["CTR"]
    assert await names(client, org.headers, metric="conversions") == ["CPC"]
    assert await names(client, org.headers, metric="spend") == ["CPC"]
    assert await count_rows(state, org, KpiMetric, KpiMetric.kpi_id == uuid.UUID(kpi["id"])) == 2


async def test_patch_changes_only_what_was_sent(client, org):
    team_id = await add_team(client, org.headers)
    kpi = await add_kpi(client, org.headers, owner_team_id=team_id, description="old")

    r = await client.patch(
        f"/v1/kpis/{kpi['id']}",
        json={"name": "Cost per click", "frequency": "daily", "description": None, "owner_team_id": None},
        headers=org.headers,
    )

    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["name"] == "Cost per click" and changed["frequency"] == "daily"
    assert changed["description"] is None and changed["owner_team_id"] is None
    assert changed["formula"] == kpi["formula"] and changed["metrics"] == kpi["metrics"]
    assert changed["created_at"] == kpi["created_at"]


async def test_a_patch_that_fails_a_check_is_422_and_writes_nothing(client, org):
    kpi = await add_kpi(client, org.headers, dimension_filter={"channel": "meta"})
    for body in (
        {"formula": "spend / (clicks"},
        {"formula": "spend / clickz"},
        {"formula": "nps_score"},  # the stored channel filter is not a dimension of nps_score
        {"dimension_filter": {"segment": "smb"}},
        {"formula": "spend / conversions", "objectives": [{"objective_id": str(uuid.uuid4())}]},
        {"formula": "spend / conversions", "owner_member_id": str(uuid.uuid4())},
        {"name": None},
        {"formula": None},
        {"dimension_filter": None},
        {"objectives": None},
        {"direction": "sideways"},
        {"metrics": ["spend"]},
    ):
        r = await client.patch(f"/v1/kpis/{kpi['id']}", json=body, headers=org.headers)
        assert r.status_code == 422, body
        assert r.headers["content-type"] == PROBLEM
    assert (await client.get(f"/v1/kpis/{kpi['id']}", headers=org.headers)).json() == kpi
    assert await names(client, org.headers, metric="clicks") == ["CPC"]
    assert await names(client, org.headers, metric="conversions") == []


async def test_direction_cannot_change_while_the_kpi_has_targets(client, org, state):
    kpi = await add_kpi(client, org.headers)
    free = await add_kpi(client, org.headers, "CPA", formula="spend / conversions")
    await add_target(state, org, kpi["id"])

    r = await client.patch(f"/v1/kpis/{kpi['id']}", json={"direction": "higher_is_better"}, headers=org.headers)
    assert r.status_code == 409
    assert r.json()["referenced_by"] == {"targets": 1}
    assert "1 target set for lower_is_better" in r.json()["detail"]

    same = await client.patch(f"/v1/kpis/{kpi['id']}", json={"direction": "lower_is_better"}, headers=org.headers)
    assert same.status_code == 200
    r = await client.patch(f"/v1/kpis/{free['id']}", json={"direction": "target_range"}, headers=org.headers)
    assert r.status_code == 200 and r.json()["direction"] == "target_range"


async def test_kpi_names_are_unique_ignoring_case(client, org, other_org):
    await add_kpi(client, org.headers, "CPC")
    other = await add_kpi(client, org.headers, "CTR", formula="clicks / impressions * 100", unit="percent")
    for name in ("CPC", "cpc", " Cpc "):
        r = await client.post("/v1/kpis", json=kpi_body(name), headers=org.headers)
        assert r.status_code == 409, name
        assert "already exists" in r.json()["detail"]
    r = await client.patch(f"/v1/kpis/{other['id']}", json={"name": "cPc"}, headers=org.headers)
    assert r.status_code == 409
    assert (await client.patch(f"/v1/kpis/{other['id']}", json={"name": "ctr"}, headers=org.headers)).status_code == 200
    await add_kpi(client, other_org.headers, "CPC")  # names are unique per organisation
    assert await names(client, org.headers) == ["CPC", "ctr"]


@pytest.mark.parametrize(
    "change",
    [
        {"category": "throughput"},
        {"kind": "mixed"},
        {"direction": "up"},
        {"frequency": "hourly"},
        {"unit": "dollars"},
        {"display_format": "0.00%"},
        {"display_format": "currency:9"},
        {"objectives": [{"objective_id": "01a22057-e538-71c3-bf3b-0dc78b9d9dea", "weight": 0}]},
        {"objectives": [{"objective_id": "01a22057-e538-71c3-bf3b-0dc78b9d9dea", "weight": "-1"}]},
        {"objectives": [{"objective_id": "01a22057-e538-71c3-bf3b-0dc78b9d9dea", "weight": "0.00001"}]},
        {"objectives": [{"objective_id": "not-a-uuid"}]},
        {"owner_team_id": "not-a-uuid"},
        {"name": ""},
        {"name": "x" * 201},
        {"formula": ""},
        {"formula": "spend / clicks " + "+ spend " * 80},
        {"metrics": ["spend"]},
        {"template_key": "cpc"},
    ],
)
async def test_bad_kpi_input_is_a_422_problem_and_nothing_is_written(client, org, change):
    r = await client.post("/v1/kpis", json=kpi_body(**change), headers=org.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert await names(client, org.headers) == []


async def test_an_objective_listed_twice_is_422(client, org):
    objective = await add_objective(client, org.headers)
    link = {"objective_id": objective["id"]}
    r = await client.post("/v1/kpis", json=kpi_body(objectives=[link, link]), headers=org.headers)
    assert r.status_code == 422
    assert "listed twice" in r.json()["detail"]
    assert await names(client, org.headers) == []


async def test_missing_required_fields_are_each_named(client, org):
    r = await client.post("/v1/kpis", json={"name": "CPC"}, headers=org.headers)
    assert r.status_code == 422
    missing = {e["location"] for e in r.json()["errors"]}
    assert missing == {"body.category", "body.formula", "body.unit", "body.direction"}


# ---------------------------------------------------------------- delete


async def test_deleting_a_kpi_takes_its_targets_revisions_dependencies_and_links(client, org, state):
    objective = await add_objective(client, org.headers)
    kpi = await add_kpi(client, org.headers, objectives=[{"objective_id": objective["id"]}])
    kept = await add_kpi(client, org.headers, "CPA", formula="spend / conversions")
    kpi_id = uuid.UUID(kpi["id"])
    target_id = await add_target(state, org, kpi["id"])
    await add_target(state, org, kept["id"])

    r = await client.delete(f"/v1/kpis/{kpi['id']}", headers=org.headers)

    assert r.status_code == 204
    assert (await client.get(f"/v1/kpis/{kpi['id']}", headers=org.headers)).status_code == 404
    assert await count_rows(state, org, KpiTarget, KpiTarget.kpi_id == kpi_id) == 0
    assert await count_rows(state, org, KpiTargetRevision, KpiTargetRevision.target_id == target_id) == 0
    assert await count_rows(state, org, KpiMetric, KpiMetric.kpi_id == kpi_id) == 0
    assert await count_rows(state, org, ObjectiveKpi, ObjectiveKpi.kpi_id == kpi_id) == 0
    # What it pointed at stays, and so does the other KPI with its target.
    assert (await client.get(f"/v1/objectives/{objective['id']}", headers=org.headers)).status_code == 200
    assert (await client.get("/v1/metrics/clicks", headers=org.headers)).json()["kpi_count"] == 0
    assert await count_rows(state, org, KpiTarget, KpiTarget.kpi_id == uuid.UUID(kept["id"])) == 1
    assert await count_rows(state, org, Kpi) == 1
    assert (await client.delete(f"/v1/kpis/{kpi['id']}", headers=org.headers)).status_code == 404


# ---------------------------------------------------------------- lists


async def test_kpis_filter_by_category_kind_direction_owner_objective_metric_and_name(client, org):
    team_id = await add_team(client, org.headers)
    member_id = await add_member(client, org.headers)
    objective = await add_objective(client, org.headers)
    await add_kpi(client, org.headers, "CPC", owner_team_id=team_id)
    await add_kpi(
        client,
        org.headers,
        "ROAS",
        category="impact",
        formula="revenue / spend",
        unit="ratio",
        direction="higher_is_better",
        owner_member_id=member_id,
        objectives=[{"objective_id": objective["id"]}],
    )
    await add_kpi(
        client,
        org.headers,
        "NPS 100% survey",
        category="impact",
        kind="qualitative",
        formula="nps_score",
        unit="score",
        direction="target_range",
    )

    assert await names(client, org.headers, category="impact") == ["ROAS", "NPS 100% survey"]
    assert await names(client, org.headers, kind="qualitative") == ["NPS 100% survey"]
    assert await names(client, org.headers, direction="higher_is_better") == ["ROAS"]
    assert await names(client, org.headers, owner_team_id=team_id) == ["CPC"]
    assert await names(client, org.headers, owner_member_id=member_id) == ["ROAS"]
    assert await names(client, org.headers, objective_id=objective["id"]) == ["ROAS"]
    assert await names(client, org.headers, metric="spend") == ["CPC", "ROAS"]
    assert await names(client, org.headers, metric="nps_score") == ["NPS 100% survey"]
    assert await names(client, org.headers, q="s") == ["ROAS", "NPS 100% survey"]  # any case
    assert await names(client, org.headers, q="%") == ["NPS 100% survey"]  # a literal %, not a wildcard
    assert await names(client, org.headers, category="impact", direction="target_range") == ["NPS 100% survey"]
    for bad in ("category=throughput", "metric=Not-A-Key", "objective_id=42", "limit=0"):
        r = await client.get(f"/v1/kpis?{bad}", headers=org.headers)
        assert r.status_code == 422, bad


async def test_kpis_page_by_cursor_without_gaps_or_repeats(client, org):
    for i in range(5):
        await add_kpi(client, org.headers, f"KPI {i}")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/kpis", params=params, headers=org.headers)).json()
        seen += [k["name"] for k in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"KPI {i}" for i in range(5)]


async def test_a_kpi_list_costs_the_same_queries_for_3_or_30_kpis(client, org, count_queries):
    objectives = [
        (await add_objective(client, org.headers, f"Raise orders in region {i} to 1,000"))["id"] for i in (1, 2)
    ]
    links = [{"objective_id": oid} for oid in objectives]

    async def measure(url: str) -> tuple[int, int]:
        await client.get(url, headers=org.headers)  # warm up: the key's last-use stamp is written at most once
        with count_queries as q:
            r = await client.get(url, params={"limit": 200}, headers=org.headers)
        assert r.status_code == 200
        assert all(len(k["metrics"]) == 2 and len(k["objectives"]) == 2 for k in r.json()["items"])
        return q.count, len(r.json()["items"])

    for i in range(3):
        await add_kpi(client, org.headers, f"KPI {i}", objectives=links)
    few = [await measure(url) for url in ("/v1/kpis", "/v1/metrics/spend/kpis")]
    for i in range(3, 30):
        await add_kpi(client, org.headers, f"KPI {i}", objectives=links)
    many = [await measure(url) for url in ("/v1/kpis", "/v1/metrics/spend/kpis")]

    assert [rows for _, rows in few] == [3, 3] and [rows for _, rows in many] == [30, 30]
    assert [n for n, _ in many] == [n for n, _ in few]
