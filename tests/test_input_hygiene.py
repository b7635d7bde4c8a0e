"""Text the store cannot hold (a NUL, a lone surrogate) is a 422 naming the field, wherever it is sent: bodies,
dimensions, ad-platform reports, headers, query and path parameters; and an oversized batch is refused by its
count before a single point is read."""

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.api.deps import SessionDep
from services.api.main import create_app
from services.api.problems import _on_database_error
from shared.ingest.adapters import ROW_COUNTS
from tests.conftest import PLATFORM_TOKEN, client_for
from tests.ingest_support import point

# A NUL, and a high surrogate without its pair: what `"\u0000"` and `"\ud800"` in JSON decode to.
UNSTORABLE = pytest.mark.parametrize("bad", ["\u0000", "\ud800"], ids=["nul", "lone-surrogate"])
DAY = (date.today() - timedelta(days=2)).isoformat()


async def send(client, method: str, path: str, body, headers: dict[str, str] | None = None):
    """Send the body as JSON with escapes (`\\u0000`, `\\ud800`), as any client may write it."""
    raw = json.dumps(body)  # ensure_ascii: every non-ASCII character, surrogates too, as a \\u escape
    return await client.request(
        method, path, content=raw.encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )


def assert_refused(r, location: str) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert location in [e["location"] for e in problem["errors"]], problem
    assert problem["detail"].startswith(location), problem["detail"]


@UNSTORABLE
@pytest.mark.parametrize(
    ("method", "path", "body", "location"),
    [
        ("POST", "/v1/teams", {"name": "Content{bad}"}, "body.name"),
        ("POST", "/v1/business-goals", {"title": "Grow{bad}", "description": "x"}, "body.title"),
        ("POST", "/v1/segments", {"name": "Retail", "description": "mid-size{bad}"}, "body.description"),
        ("POST", "/v1/competitors", {"name": "Rival", "strengths": ["price", "speed{bad}"]}, "body.strengths.1"),
        ("POST", "/v1/api-keys", {"name": "etl{bad}", "role": "viewer"}, "body.name"),
        ("POST", "/v1/members", {"name": "Ann", "email": "ann{bad}@acme.example"}, "body.email"),
        ("POST", "/v1/objectives", {"statement": "Raise monthly orders to 12,000{bad}"}, "body.statement"),
    ],
)
async def test_text_the_store_cannot_hold_is_refused_naming_the_field(client, org, method, path, body, location, bad):
    sent = {k: (v.format(bad=bad) if isinstance(v, str) else [s.format(bad=bad) for s in v]) for k, v in body.items()}
    r = await send(client, method, path, sent, org.headers)
    assert_refused(r, location)


@UNSTORABLE
async def test_an_org_name_and_a_team_rename(client, org, bad):
    r = await send(client, "POST", "/v1/orgs", {"name": f"Acme{bad}"}, {"X-Platform-Token": PLATFORM_TOKEN})
    assert_refused(r, "body.name")

    team = (await client.post("/v1/teams", json={"name": "Content"}, headers=org.headers)).json()
    r = await send(client, "PATCH", f"/v1/teams/{team['id']}", {"name": f"Brand{bad}"}, org.headers)
    assert_refused(r, "body.name")
    kept = (await client.get(f"/v1/teams/{team['id']}", headers=org.headers)).json()
    assert kept["name"] == "Content", "nothing half-written"


@UNSTORABLE
async def test_a_dimension_value_deep_in_a_batch_is_named(client, org, bad):
    points = [point("spend", 1, DAY, channel="meta", campaign=f"c{i}") for i in range(5)]
    points[3]["dimensions"]["campaign"] = f"bf{bad}2026"
    r = await send(client, "POST", "/v1/ingest/metrics", {"points": points}, org.headers)
    assert_refused(r, "body.points.3.dimensions.campaign")

    r = await send(
        client, "POST", "/v1/ingest/metrics", {"points": points[:1], "idempotency_key": f"k{bad}"}, org.headers
    )
    assert_refused(r, "body.idempotency_key")


async def test_an_idempotency_key_header_with_a_nul(client, org):
    body = {"points": [point("spend", 1, DAY, channel="meta")]}
    r = await send(client, "POST", "/v1/ingest/metrics", body, {**org.headers, "Idempotency-Key": "crm\x002026"})
    assert_refused(r, "header.idempotency-key")


@UNSTORABLE
async def test_a_platform_report_with_unstorable_text_anywhere(client, org, bad):
    rows = [
        {"date_start": DAY, "date_stop": DAY, "campaign_id": "120210", "spend": "1.5"},
        {"date_start": DAY, "date_stop": DAY, "campaign_id": "120211", "spend": "2", "campaign_name": f"BF{bad}"},
    ]
    r = await send(client, "POST", "/v1/ingest/meta", {"data": rows}, org.headers)
    assert_refused(r, "body.data[1].campaign_name")


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/v1/kpis?q=ab%00c", "query.q"),
        ("/v1/ingest/batches?source=crm%00", "query.source"),
        ("/v1/members?q=ann%00", "query.q"),
        ("/v1/metrics/sp%00end", "path.key"),
    ],
)
async def test_a_nul_in_a_query_or_path_parameter(client, org, path, location):
    assert_refused(await client.get(path, headers=org.headers), location)


async def test_a_report_field_named_with_a_lone_surrogate_is_named_readably(client, org):
    row = f'{{"date_start": "{DAY}", "campaign_id": "120210", "spend": "1", "x\\ud800": 1}}'
    r = await client.post(
        "/v1/ingest/meta",
        content=f'{{"data": [{row}]}}'.encode(),
        headers={**org.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["location"] == "body.data[0].x\\ud800"


async def test_valid_text_still_passes(client, org):
    r = await client.post("/v1/teams", json={"name": "Équipe 🚀 marketing"}, headers=org.headers)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Équipe 🚀 marketing"


# --- data exceptions the database still raises ------------------------------------------------------------


class _PgError(Exception):
    def __init__(self, sqlstate: str):
        super().__init__('invalid byte sequence for encoding "UTF8": 0x00')
        self.sqlstate = sqlstate


@pytest.mark.parametrize("code", ["22021", "22P05", "22003", "22001"])
async def test_a_data_exception_from_postgres_is_a_422(code):
    exc = DBAPIError("INSERT …", {}, _PgError(code))
    r = await _on_database_error(None, exc)
    assert r.status_code == 422
    assert json.loads(r.body)["type"].endswith("validation-error")


@pytest.mark.postgres_only
async def test_a_data_exception_escaping_a_route_is_a_422_on_postgres(settings, database):
    app = create_app(settings)  # an app of the test's own: the probe route never joins the shared one

    @app.get("/probe/nul")
    async def nul(session: SessionDep) -> dict:
        await session.execute(text("SELECT convert_from('\\x00'::bytea, 'UTF8')"))  # 22021, as a NUL in text
        return {}

    async with client_for(app) as c:
        r = await c.get("/probe/nul")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


# --- an oversized batch is refused by its count -------------------------------------------------------------


async def test_a_batch_over_the_point_limit_is_refused_before_its_points_are_read(client, org, state):
    limit = state.settings.ingest_max_points
    # Points that would each fail validation: counting first never looks at them.
    body = json.dumps({"points": [{"metric": 1}] * (limit + 1)}).encode()
    r = await client.post(
        "/v1/ingest/metrics", content=body, headers={**org.headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text
    assert f"at most {limit} points" in r.json()["detail"]


async def test_a_platform_report_over_the_limit_is_refused_by_its_rows(client, org, state):
    limit = state.settings.ingest_max_points
    rows = [{"date_start": "not a day"}] * (limit + 1)  # each would be a 422 once read
    r = await client.post(
        "/v1/ingest/meta",
        content=json.dumps({"data": rows}).encode(),
        headers={**org.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert f"at most {limit}" in r.json()["detail"]


ROW = {"campaign_id": "1"}


@pytest.mark.parametrize(
    ("source", "payload", "rows"),
    [
        ("meta", {"data": [ROW] * 3, "paging": {}}, 3),
        ("meta", [ROW] * 2, 2),
        ("google_ads", {"results": [ROW] * 3, "fieldMask": "campaign.id"}, 3),
        ("google_ads", [{"results": [ROW] * 2}, {"results": [ROW] * 3}, {"fieldMask": "x"}], 5),
        ("google_ads", [ROW] * 4, 4),
        ("tiktok", {"code": 0, "data": {"list": [ROW] * 3}}, 3),
        ("linkedin", {"elements": [ROW] * 3}, 3),
        ("linkedin", "not a report", 0),
    ],
)
def test_a_report_is_counted_by_its_rows_without_reading_them(source, payload, rows):
    assert ROW_COUNTS[source](payload) == rows
