"""Integrators work from the OpenAPI document: every operation is described and shows examples."""

import re

import pytest

from services.api.main import create_app

SPEC = create_app().openapi()
OPERATIONS = [
    (method.upper(), path, op)
    for path, item in SPEC["paths"].items()
    if path.startswith(("/v1/", "/health/", "/metrics"))
    for method, op in item.items()
]


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def _has_example(schema: dict, depth: int = 0) -> bool:
    """An example on the schema, on one of its properties, or inside a list/page item."""
    if "examples" in schema or "example" in schema:
        return True
    schema = _resolve(schema)
    if "examples" in schema or "example" in schema:
        return True
    if depth > 3:
        return False
    children = list(schema.get("properties", {}).values())
    children += [schema["items"]] if "items" in schema else []
    children += schema.get("anyOf", []) + schema.get("allOf", [])
    return any(_has_example(child, depth + 1) for child in children)


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_operation_is_described_with_examples(method, path, op):
    assert op.get("summary"), "no summary"
    assert len(op.get("description", "")) >= 20, "no description written for integrators"
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        assert _has_example(body["schema"]), "request body has no example"
    for status, response in op["responses"].items():
        content = response.get("content", {}).get("application/json")
        if status.startswith("2") and content and content.get("schema"):
            assert "example" in content or _has_example(content["schema"]), f"{status} response has no example"
        if status.startswith(("4", "5")):
            assert "application/problem+json" in response.get("content", {}), f"{status} is not documented as a problem"


def test_the_document_names_the_auth_scheme():
    assert SPEC["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
VERBS = ("_list", "_get", "_create", "_update", "_set", "_delete", "_push")


def test_operation_ids_follow_the_one_rule_and_none_repeats():
    ids = [op["operationId"] for _, _, op in OPERATIONS]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for method, path, op in OPERATIONS:
        oid = op["operationId"]
        # FastAPI's default is `<function>_<path>_<method>`: `kpis_create_v1_kpis_post`; ours never spells the path.
        assert OPERATION_ID.match(oid) and "v1" not in oid.split("_") and len(oid) <= 40, (method, path, oid)
        assert not oid.endswith(("_post", "_patch", "_put")), (method, path, oid)
        assert oid.endswith(VERBS) or (method == "POST" and oid.split("_")[-1] in path), (method, path, oid)
    by_route = {f"{m} {p}": op["operationId"] for m, p, op in OPERATIONS}
    assert [
        by_route["POST /v1/kpis"],
        by_route["GET /v1/kpis/{kpi_id}/targets"],
        by_route["POST /v1/alerts/{alert_id}/ack"],
        by_route["POST /v1/ingest/metrics"],
        by_route["PUT /v1/plans/{plan_id}/budget"],
        by_route["GET /v1/kpi-templates/{key}"],
        by_route["GET /metrics"],
    ] == [
        "kpis_create",
        "kpis_targets_list",
        "alerts_ack",
        "ingest_metrics_push",
        "plans_budget_set",
        "kpi_templates_get",
        "ops_metrics_get",
    ]


def test_every_tag_is_described_and_reads_as_a_module_name():
    described = {tag["name"]: tag.get("description") for tag in SPEC.get("tags", [])}
    used = {tag for _, _, op in OPERATIONS for tag in op.get("tags", [])}
    assert used <= described.keys(), used - described.keys()
    assert all(described[tag] for tag in used)
    # A generated client splits a capital run before a lower-case letter: `KPIs` became its module `kp_is`.
    assert not [tag for tag in used if re.search(r"[A-Z]{2,}[a-z]", tag)]


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_errors_are_typed_problems_with_examples(method, path, op):
    for status, response in op["responses"].items():
        if not status.startswith(("4", "5")):
            continue
        content = response.get("content", {})
        assert list(content) == ["application/problem+json"], (status, list(content))
        schema = content["application/problem+json"]["schema"]
        want = "ValidationProblem" if status == "422" else "ProblemDetail"
        assert schema.get("$ref", "").endswith("/" + want), (status, schema)
        if status in ("401", "403", "404", "422"):
            example = content["application/problem+json"].get("example")
            assert example and example["status"] == int(status), (status, example)
    problem = _resolve({"$ref": "#/components/schemas/ValidationProblem"})
    item = _resolve(problem["properties"]["errors"]["items"])
    assert set(item["required"]) == {"location", "message", "type"} and "errors" in problem["required"]


async def test_a_422_entry_always_has_a_type(client, org):
    # Refusals built by hand (an adapter's field, a budget line's campaign) carry a kind like the model's do.
    report = {"data": [{"campaign_id": "abc", "date_start": "2026-11-02", "spend": "1", "account_currency": "USD"}]}
    r = await client.post("/v1/ingest/meta", json=report, headers=org.headers)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert [(e["location"], e["type"]) for e in r.json()["errors"]] == [("body.data[0].campaign_id", "report_field")]


def test_the_document_names_its_server_and_documents_every_webhook():
    assert SPEC["servers"] == [{"url": "/", "description": "This service"}]
    assert "kpi.off_track" in SPEC["webhooks"] and "webhook.test" in SPEC["webhooks"]
