"""A PATCH changes only the fields it sends. Sending `null` clears a field the resource may hold empty; for a field
it always has (a name, a status, an amount) `null` is a 422 naming the field, and nothing changes. Checked on every
PATCH route of the app, each field judged by the resource as the API returns it: its 200 response schema."""

import httpx
import pytest

from tests.conftest import create_org
from tests.test_route_matrix import route_table
from tests.world import World, build_world

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
async def world(app) -> tuple[World, dict]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        org = await create_org(client, "Patch nulls")
        return await build_world(client, app.state.kpi, org), org.headers


def _schema(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _nullable(schema: dict) -> bool:
    return schema.get("type") == "null" or any(option.get("type") == "null" for option in schema.get("anyOf", []))


def patch_fields(app) -> list[tuple[str, str, bool]]:
    """(path, body field, whether the resource may hold it empty) for every field of every PATCH body that the
    resource returns."""
    document = app.openapi()
    found = []
    for name in route_table(app):
        method, path = name.split(" ", 1)
        if method != "PATCH":
            continue
        operation = document["paths"][path]["patch"]
        body = _schema(document, operation["requestBody"]["content"]["application/json"]["schema"])
        returned = _schema(document, operation["responses"]["200"]["content"]["application/json"]["schema"])
        for field in body["properties"]:
            if field in returned["properties"]:
                found.append((path, field, _nullable(returned["properties"][field])))
    return found


def test_every_patch_route_is_covered(app):
    paths = {path for path, _, _ in patch_fields(app)}
    assert len(paths) == sum(name.startswith("PATCH ") for name in route_table(app)) == 18
    kept = [(path, field) for path, field, nullable in patch_fields(app) if not nullable]
    assert ("/v1/teams/{team_id}", "name") in kept and ("/v1/business-goals/{goal_id}", "title") in kept


async def test_null_is_refused_for_a_field_the_resource_always_has(client, app, world):
    world_, headers = world
    readable = {name.split(" ", 1)[1] for name in route_table(app) if name.startswith("GET ")}
    for path, field, nullable in patch_fields(app):
        if nullable:
            continue
        url = world_.fill(path)
        before = (await client.get(url, headers=headers)) if path in readable else None
        r = await client.patch(url, json={field: None}, headers=headers)
        assert r.status_code == 422, (path, field, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM
        [error] = r.json()["errors"]
        assert (error["location"], error["type"]) == (f"body.{field}", "null_refused"), (path, error)
        assert r.json()["detail"].startswith(f"body.{field}: cannot be null"), r.json()["detail"]
        if before is not None:
            assert (await client.get(url, headers=headers)).json() == before.json(), (path, field)


async def test_null_is_never_refused_for_a_field_the_resource_may_hold_empty(client, app, world):
    world_, headers = world
    for path, field, nullable in patch_fields(app):
        if not nullable:
            continue
        r = await client.patch(world_.fill(path), json={field: None}, headers=headers)
        # Other rules may still refuse the change (a budget line needs a channel, a team or a campaign).
        types = [e.get("type") for e in r.json().get("errors") or []] if r.status_code == 422 else []
        assert "null_refused" not in types, (path, field, r.text)
        assert r.status_code in (200, 409, 422), (path, field, r.status_code, r.text)
