"""Every error is an RFC 9457 problem, including framework errors and crashes."""

import logging

import httpx
import pytest

from services.api.main import create_app
from tests.conftest import client_for

PROBLEM = "application/problem+json"


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert {"type", "title", "status", "detail", "request_id"} <= body.keys()
    assert body["status"] == status
    assert body["request_id"] == r.headers["x-request-id"]
    return body


async def test_unknown_route_and_wrong_method_are_problems(client, org):
    assert_problem(await client.get("/v1/nothing-here", headers=org.headers), 404)
    assert_problem(await client.put("/v1/api-keys", headers=org.headers), 405)


async def test_invalid_json_and_invalid_fields_are_422_with_errors(client, org):
    broken = await client.post(
        "/v1/api-keys", content=b'{"name": ', headers={**org.headers, "content-type": "application/json"}
    )
    assert assert_problem(broken, 422)["errors"]
    bad = await client.post("/v1/api-keys", json={"name": "", "role": "owner"}, headers=org.headers)
    body = assert_problem(bad, 422)
    assert {e["location"] for e in body["errors"]} == {"body.name", "body.role"}
    assert body["detail"].endswith("(and 1 more)")


async def test_body_over_the_limit_is_413_declared_or_streamed(settings, database):
    app = create_app(settings.model_copy(update={"max_body_bytes": 1000}))
    big = b'{"name": "' + b"x" * 2000 + b'"}'

    async def chunks():
        for i in range(0, len(big), 100):
            yield big[i : i + 100]

    async with client_for(app) as c:
        declared = await c.post("/v1/orgs", content=big, headers={"content-type": "application/json"})
        streamed = await c.post("/v1/orgs", content=chunks(), headers={"content-type": "application/json"})
        small = await c.post("/v1/orgs", json={"name": "fits"})
    assert "content-length" not in streamed.request.headers
    for r in (declared, streamed):
        body = assert_problem(r, 413)
        assert "1000 bytes" in body["detail"]
        assert body["type"].endswith("/payload-too-large")
    assert small.status_code == 401  # under the limit it reaches the route (and wants a platform token)


async def test_a_crash_is_a_500_problem_with_request_id_and_a_logged_traceback(settings, database, caplog):
    app = create_app(settings)

    async def explode():
        raise RuntimeError("kaboom in a route")

    app.add_api_route("/boom", explode)
    async with client_for(app) as c:
        with caplog.at_level(logging.ERROR):
            r = await c.get("/boom", headers={"X-Request-Id": "trace-me-123"})
    body = assert_problem(r, 500)
    assert body["request_id"] == "trace-me-123"
    assert "kaboom" not in body["detail"], "internals must not leak to the caller"
    [record] = [rec for rec in caplog.records if rec.getMessage() == "unhandled error"]
    assert record.exc_info and "kaboom in a route" in str(record.exc_info[1])


@pytest.mark.parametrize("given", ["", "has spaces", "x" * 200])
async def test_unusable_request_ids_are_replaced(client, given):
    r = await client.get("/health/live", headers={"X-Request-Id": given})
    assert r.headers["x-request-id"] != given
    assert len(r.headers["x-request-id"]) == 32
