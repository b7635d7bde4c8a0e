"""Every route during a dependency outage, from the app's route table: with the link to Postgres cut (a TCP proxy
this test controls, tests/faultproxy.py; the shared server is never stopped), each route, called as an allowed
caller would call it, answers a 503 with `Retry-After` — a problem+json for the API, an HTML page for the
dashboard — or answers as usual if it needs no database; never a 500. Once the link is back the same app answers
normally, without a restart. With the link to Redis cut, a push is still accepted (the batch is durable; the
sweeper enqueues it later) and the deep readiness check says 503 at once.

Both backends: a signed-in browser gets the dashboard's outage page, and a push is authenticated before its points
are counted (no key: 401, never 413; a key whose lookup fails: 503).

A new route is covered without anyone adding it: the walk is over `route_table(app)` and the rules of
tests/test_route_matrix.py (which already fail the suite for a route without its rule).
"""

import json
import re
import time
import uuid

import httpx
import pytest

from services.api.dashboard import auth as dashboard_auth
from services.api.main import create_app
from tests.conftest import PLATFORM_TOKEN, auth, client_for
from tests.faultproxy import FaultProxy
from tests.ingest_support import point, push, wait_done
from tests.test_route_matrix import (
    CSRF,
    PROBLEM,
    ROLES,
    RULES,
    Setup,
    _call,
    build_setup,
    route_table,
)

# A database nobody can reach, whatever the backend under test.
NOWHERE = "postgresql+asyncpg://x@127.0.0.1:1/none"


@pytest.fixture(scope="module")
async def setup(app) -> Setup:
    """The route matrix's seeded organisation (a real object behind every path id) and its four keys."""
    return await build_setup(app)


# The only routes that answer while the database is down, and what they answer; every other route needs it.
WITHOUT_DATABASE = {
    "GET /health/live": 200,
    "GET /metrics": 200,  # with kpi_database_up 0 (tests/test_health.py checks the rest)
    "GET /dashboard/login": 200,
    "GET /dashboard/static/dashboard.css": 200,
}
# Bodies that pass validation where the database would otherwise not be reached (the platform token is checked
# without it, so `{}` would stop at 422).
OUTAGE_BODIES = {"POST /v1/orgs": {"name": "Created during an outage"}}


def _role_for(name: str) -> str:
    return next(role for role in ROLES if role in RULES[name].roles)


async def _sign_in(browser: httpx.AsyncClient, key: str) -> str:
    """Sign `browser` in with `key`; the CSRF token of its session's forms."""
    form = await browser.get("/dashboard/login")
    token = CSRF.search(form.text).group(1)
    r = await browser.post("/dashboard/login", data={"api_key": key, "csrf": token, "next": "/dashboard"})
    assert r.status_code == 303, r.text
    return CSRF.search((await browser.get("/dashboard")).text).group(1)


async def _request(name: str, setup: Setup, client, browser, csrf: str) -> httpx.Response:
    """`name` called as an allowed caller calls it: the role's key, the platform token or the signed-in browser."""
    method, template = name.split(" ", 1)
    rule, path = RULES[name], setup.world.fill(template)
    if name == "POST /dashboard/login":  # the sign-in form's own token (a double-submit cookie)
        token = CSRF.search((await browser.get(path)).text).group(1)
        return await browser.post(path, data={"api_key": setup.keys["viewer"], "csrf": token, "next": "/dashboard"})
    if rule.via == "session" or path.startswith("/dashboard/"):
        return await browser.request(method, path, data={"csrf": csrf} if method == "POST" else None)
    if rule.via == "platform":
        headers = {"X-Platform-Token": PLATFORM_TOKEN}
    elif rule.via == "key":
        headers = auth(setup.keys[_role_for(name)])
    else:
        headers = {}
    if name in OUTAGE_BODIES:
        return await client.request(method, path, json=OUTAGE_BODIES[name], headers=headers)
    return await _call(client, name, path, headers, setup.world)


def _unavailable(name: str, r: httpx.Response) -> str | None:
    """What is wrong with `r` as an outage answer of `name`, or None."""
    if r.status_code != 503:
        return f"{r.status_code} {r.text[:200]}"
    if not r.headers.get("retry-after", "").isdigit():
        return "503 without Retry-After"
    path = name.split(" ", 1)[1]
    if path == "/dashboard" or path.startswith("/dashboard/"):
        if not r.headers["content-type"].startswith("text/html"):
            return f"dashboard 503 as {r.headers['content-type']}, not an HTML page"
        return None if "<html" in r.text else "no page"
    if r.headers["content-type"] != PROBLEM:
        return f"503 as {r.headers['content-type']}"
    expected = "/not-ready" if path == "/health/ready" else "/service-unavailable"
    body = r.json()
    return None if body["type"].endswith(expected) and body.get("request_id") else f"503 body {body}"


@pytest.mark.postgres_only
async def test_every_route_answers_a_database_outage_with_503_and_recovers_by_itself(settings, setup):
    proxy = FaultProxy.for_url(settings.database_url).start()
    app = create_app(settings.model_copy(update={"database_url": proxy.url(settings.database_url)}))
    names = sorted(route_table(app))
    try:
        async with (
            client_for(app) as client,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser,
        ):
            csrf = await _sign_in(browser, setup.keys["admin"])
            proxy.cut()
            started = time.monotonic()
            wrong = {}
            for name in names:
                r = await _request(name, setup, client, browser, csrf)
                if name in WITHOUT_DATABASE:
                    if r.status_code != WITHOUT_DATABASE[name]:
                        wrong[name] = f"{r.status_code} {r.text[:200]}"
                elif (problem := _unavailable(name, r)) is not None:
                    wrong[name] = problem
            assert not wrong, "\n".join(f"{name}: {problem}" for name, problem in wrong.items())
            assert time.monotonic() - started < 30, "an outage must be answered at once, not after timeouts"
            assert re.search(r"^kpi_database_up 0\.0$", (await client.get("/metrics")).text, re.M)

            proxy.restore()
            world, admin = setup.world, auth(setup.keys["admin"])
            for path in ("/v1/teams", world.fill("/v1/kpis/{kpi_id}"), "/v1/reports/department", "/health/ready"):
                r = await client.get(path, headers=admin)
                assert r.status_code == 200, (path, r.status_code, r.text)
            r = await push(client, auth(setup.keys["ingest"]), [point("leads", 1, "2026-10-01", channel="meta")])
            assert r.status_code == 202, r.text
            page = await browser.get("/dashboard")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert re.search(r"^kpi_database_up 1\.0$", (await client.get("/metrics")).text, re.M)
    finally:
        proxy.close()


@pytest.mark.postgres_only
async def test_a_queue_outage_keeps_pushes_accepted_and_readiness_failing_fast(settings, setup, state, client):
    """Redis cut: a push is still a 202 (the batch is in the database; after the outage the sweeper enqueues it),
    and /health/ready?deep=1 answers 503 within its checks' budget, never a 500."""
    from shared.ingest.pipeline import sweep_batches

    proxy = FaultProxy.for_url(settings.redis_url).start()
    app = create_app(settings.model_copy(update={"redis_url": proxy.url(settings.redis_url)}))
    ingest = auth(setup.keys["ingest"])
    try:
        async with client_for(app) as cut_off:
            assert (await cut_off.get("/health/ready")).status_code == 200
            proxy.cut()
            r = await push(cut_off, ingest, [point("leads", 3, "2026-10-02", channel="meta")])
            assert r.status_code == 202, r.text
            batch_id = r.json()["batch_id"]
            started = time.monotonic()
            r = await cut_off.get("/health/ready", params={"deep": 1})
            elapsed = time.monotonic() - started
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == PROBLEM and r.headers["retry-after"].isdigit()
            assert r.json()["checks"]["queue"]["ok"] is False and r.json()["checks"]["database"]["ok"] is True
            assert elapsed < 5, f"deep readiness took {elapsed:.1f} s with Redis cut"
            assert (await cut_off.get(f"/v1/ingest/batches/{batch_id}", headers=ingest)).json()["status"] == "pending"
            proxy.restore()
            assert (await cut_off.get("/health/ready")).status_code == 200
    finally:
        proxy.close()
    # After the outage the sweeper (a worker cron, run here at once) enqueues the batch, and it is merged.
    ctx = {
        "db": state.db,
        "queue": state.queue,
        "settings": state.settings.model_copy(update={"ingest_pending_grace_s": 0}),
    }
    assert await sweep_batches(ctx) >= 1
    assert (await wait_done(client, ingest, batch_id))["status"] == "done"


def _session_cookie(app, org_id: uuid.UUID) -> str:
    """A validly signed dashboard cookie for `app` (its session row is never read: the database is down)."""
    claims = {"s": str(uuid.uuid4()), "o": str(org_id), "e": int(time.time()) + 3600}
    payload = dashboard_auth._b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{dashboard_auth._mac(app.state.session_key, payload)}"


async def test_a_signed_in_browser_gets_an_outage_page_and_the_api_a_problem(settings, database):
    """The database unreachable: a dashboard page is an HTML page with Retry-After (a browser shows it; JSON it
    would not), the API's routes a 503 problem+json — the key lookup itself is what fails."""
    app = create_app(settings.model_copy(update={"database_url": NOWHERE, "run_crons": False}))
    async with client_for(app) as c:
        c.cookies.set(dashboard_auth.SESSION_COOKIE, _session_cookie(app, uuid.uuid4()), path="/dashboard")
        for method, path in (("GET", "/dashboard"), ("GET", f"/dashboard/kpis/{uuid.uuid4()}")):
            r = await c.request(method, path)
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert r.headers["content-type"].startswith("text/html"), path
            assert r.headers["retry-after"].isdigit() and r.headers["cache-control"] == "no-store"
            assert "default-src 'none'" in r.headers["content-security-policy"]
            assert "Temporarily unavailable" in r.text and "<html" in r.text
        well_formed = "kpi_0123456789ab_" + "s" * 43  # so it is looked up
        r = await c.get("/v1/teams", headers=auth(well_formed))
        assert r.status_code == 503 and r.headers["content-type"] == PROBLEM
        assert r.headers["retry-after"].isdigit()


async def test_a_push_is_authenticated_before_its_points_are_counted(client, keys, state, settings, database):
    """Too many points: 401 without a valid key, 403 for a role that may not push, 413 for one that may (before a
    single point is validated, so invalid points still get 413), and 503 when the key cannot be looked up."""
    too_many = [point("spend", i, "2026-11-02") for i in range(4)]
    invalid = [{"metric": "spend"}] * 4
    limit = state.settings.ingest_max_points
    state.settings.ingest_max_points = 3
    try:
        answers = {
            "no key": (await push(client, {}, too_many)).status_code,
            "wrong key": (await push(client, auth("kpi_0123456789ab_wrong"), too_many)).status_code,
            "viewer": (await push(client, keys.headers("viewer"), too_many)).status_code,
            "ingest": (await push(client, keys.headers("ingest"), too_many)).status_code,
            "ingest, invalid points": (await push(client, keys.headers("ingest"), invalid)).status_code,
        }
    finally:
        state.settings.ingest_max_points = limit
    assert answers == {"no key": 401, "wrong key": 401, "viewer": 403, "ingest": 413, "ingest, invalid points": 413}

    app = create_app(settings.model_copy(update={"database_url": NOWHERE, "run_crons": False, "ingest_max_points": 3}))
    async with client_for(app) as c:
        r = await push(c, keys.headers("ingest"), too_many)
    assert r.status_code == 503 and r.headers["retry-after"].isdigit(), r.text
