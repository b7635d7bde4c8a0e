"""Integrators work from the OpenAPI document: every operation is described and shows examples."""

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
