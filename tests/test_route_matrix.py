"""Who may call what, generated from the app's route table: every route × every role, and every route naming an
organisation's object × another organisation. One rule per route below; a route added without its rule fails
`test_every_route_has_exactly_one_rule`, so nobody can add an endpoint and forget to decide who may call it.
"""

import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tests.conftest import PLATFORM_TOKEN, auth, create_org, make_key
from tests.dashboard_support import MONTH
from tests.world import World, build_world

PROBLEM = "application/problem+json"
ROLES = ("admin", "editor", "viewer", "ingest")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Rule:
    via: str  # "key" (Bearer API key), "session" (dashboard cookie), "platform" (X-Platform-Token), "public"
    roles: frozenset[str] = frozenset()
    ids: str = "none"  # "own": the path names the organisation's object; "shared": a fixed name; "none"


ADMIN = Rule("key", frozenset({"admin"}))
EDITOR = Rule("key", frozenset({"admin", "editor"}))
READER = Rule("key", frozenset({"admin", "editor", "viewer"}))
INGESTOR = Rule("key", frozenset({"admin", "editor", "ingest"}))
ANY_KEY = Rule("key", frozenset(ROLES))
PUBLIC = Rule("public")


def own(rule: Rule) -> Rule:
    return Rule(rule.via, rule.roles, "own")


def shared(rule: Rule) -> Rule:
    return Rule(rule.via, rule.roles, "shared")


def crud(path: str, item: str) -> dict[str, Rule]:
    """The five rules of a collection editors change and viewers read (under a parent's id or not)."""
    parent = own if "{" in path else (lambda rule: rule)
    return {
        f"POST {path}": parent(EDITOR),
        f"GET {path}": parent(READER),
        f"GET {path}/{{{item}}}": own(READER),
        f"PATCH {path}/{{{item}}}": own(EDITOR),
        f"DELETE {path}/{{{item}}}": own(EDITOR),
    }


RULES: dict[str, Rule] = {
    # operations: probes and Prometheus answer anyone (the network guards them, not a key)
    "GET /health/live": PUBLIC,
    "GET /health/ready": PUBLIC,
    "GET /metrics": PUBLIC,
    # organisations and keys
    "POST /v1/orgs": Rule("platform"),
    "PUT /v1/fx-rates": EDITOR,
    "GET /v1/fx-rates": READER,
    "DELETE /v1/fx-rates/{from_currency}/{to_currency}/{day}": shared(EDITOR),
    "GET /v1/org": ANY_KEY,
    "PATCH /v1/org": ADMIN,
    "GET /v1/org/changes": ADMIN,
    "POST /v1/api-keys": ADMIN,
    "GET /v1/api-keys": ADMIN,
    "DELETE /v1/api-keys/{key_id}": own(ADMIN),
    # department
    "GET /v1/department": READER,
    "PUT /v1/department": EDITOR,
    "GET /v1/department/overview": READER,
    **crud("/v1/teams", "team_id"),
    **crud("/v1/positions", "position_id"),
    **crud("/v1/members", "member_id"),
    **crud("/v1/workflows", "workflow_id"),
    "GET /v1/workflows/{workflow_id}/tools": own(READER),
    "PUT /v1/workflows/{workflow_id}/tools": own(EDITOR),
    "GET /v1/workflows/{workflow_id}/steps": own(READER),
    "POST /v1/workflows/{workflow_id}/steps": own(EDITOR),
    "PUT /v1/workflows/{workflow_id}/steps/order": own(EDITOR),
    "PATCH /v1/workflows/{workflow_id}/steps/{step_id}": own(EDITOR),
    "DELETE /v1/workflows/{workflow_id}/steps/{step_id}": own(EDITOR),
    # strategy
    **crud("/v1/business-goals", "goal_id"),
    **crud("/v1/objectives", "objective_id"),
    **crud("/v1/segments", "segment_id"),
    **crud("/v1/competitors", "competitor_id"),
    "GET /v1/market-analysis": READER,
    "GET /v1/objectives/{objective_id}/progress": own(READER),
    # plans and budgets
    **crud("/v1/plans", "plan_id"),
    "POST /v1/plans/{plan_id}/status": own(EDITOR),
    **crud("/v1/plans/{plan_id}/campaigns", "campaign_id"),
    "PUT /v1/plans/{plan_id}/budget": own(EDITOR),
    "GET /v1/plans/{plan_id}/budget": own(READER),
    "POST /v1/plans/{plan_id}/budget/lines": own(EDITOR),
    "GET /v1/plans/{plan_id}/budget/lines": own(READER),
    "PATCH /v1/plans/{plan_id}/budget/lines/{line_id}": own(EDITOR),
    "DELETE /v1/plans/{plan_id}/budget/lines/{line_id}": own(EDITOR),
    "POST /v1/plans/{plan_id}/budget/reallocations": own(EDITOR),
    "GET /v1/plans/{plan_id}/budget/reallocations": own(READER),
    "GET /v1/plans/{plan_id}/budget/report": own(READER),
    # metric catalogue and KPIs ({key} of /v1/metrics is the organisation's own metric)
    **crud("/v1/metrics", "key"),
    "GET /v1/metrics/{key}/kpis": own(READER),
    **crud("/v1/kpis", "kpi_id"),
    "GET /v1/kpi-templates": READER,
    "GET /v1/kpi-templates/{key}": shared(READER),
    "POST /v1/kpi-templates/{key}/kpis": shared(EDITOR),
    **crud("/v1/kpis/{kpi_id}/targets", "target_id"),
    "GET /v1/kpis/{kpi_id}/targets/{target_id}/revisions": own(READER),
    "GET /v1/kpis/{kpi_id}/suggested-target": own(READER),
    "GET /v1/kpis/{kpi_id}/values": own(READER),
    "GET /v1/kpis/{kpi_id}/evaluations": own(READER),
    # ingestion: pushing is for ingest keys (and editors); batches are readable by every key
    "POST /v1/ingest/metrics": INGESTOR,
    "POST /v1/ingest/{source}": shared(INGESTOR),
    "GET /v1/ingest/batches": ANY_KEY,
    "GET /v1/ingest/batches/{batch_id}": own(ANY_KEY),
    "GET /v1/ingest/sources/{source}/config": shared(READER),
    "PUT /v1/ingest/sources/{source}/config": shared(ADMIN),
    "PUT /v1/ingest/sources/{source}/signing-secret": shared(ADMIN),
    "DELETE /v1/ingest/sources/{source}/signing-secret": shared(ADMIN),
    # alerts
    "GET /v1/alerts": READER,
    "POST /v1/alerts/{alert_id}/ack": own(EDITOR),
    # webhooks: secrets and receivers are the admin's
    "POST /v1/webhook-endpoints": ADMIN,
    "GET /v1/webhook-endpoints": ADMIN,
    "GET /v1/webhook-endpoints/{endpoint_id}": own(ADMIN),
    "PATCH /v1/webhook-endpoints/{endpoint_id}": own(ADMIN),
    "DELETE /v1/webhook-endpoints/{endpoint_id}": own(ADMIN),
    "POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret": own(ADMIN),
    "POST /v1/webhook-endpoints/{endpoint_id}/test": own(ADMIN),
    "GET /v1/webhook-endpoints/{endpoint_id}/deliveries": own(ADMIN),
    "POST /v1/webhook-deliveries/{delivery_id}/retry": own(ADMIN),
    "GET /v1/operator-events": ADMIN,
    # notifications: channels hold credentials and routing decides who hears what (admin); silences are for editors
    "POST /v1/notification-channels": ADMIN,
    "GET /v1/notification-channels": ADMIN,
    "GET /v1/notification-channels/{channel_id}": own(ADMIN),
    "PATCH /v1/notification-channels/{channel_id}": own(ADMIN),
    "DELETE /v1/notification-channels/{channel_id}": own(ADMIN),
    "POST /v1/notification-channels/{channel_id}/test": own(ADMIN),
    "GET /v1/notification-channels/{channel_id}/deliveries": own(ADMIN),
    "POST /v1/notification-deliveries/{delivery_id}/retry": own(ADMIN),
    "GET /v1/notification-routing": READER,
    "PUT /v1/notification-routing": ADMIN,
    "POST /v1/silences": EDITOR,
    "GET /v1/silences": READER,
    "GET /v1/silences/{silence_id}": own(READER),
    "DELETE /v1/silences/{silence_id}": own(EDITOR),
    # reports
    "GET /v1/reports/scorecard": READER,
    "GET /v1/reports/budget": READER,
    "GET /v1/reports/department": READER,
    # dashboard: a browser session made from a viewer, editor or admin key; ingest keys cannot sign in
    "GET /dashboard/login": PUBLIC,
    "POST /dashboard/login": PUBLIC,
    "POST /dashboard/logout": PUBLIC,
    "POST /dashboard/language": PUBLIC,  # like signing out: without a session it only redirects to sign-in
    "GET /dashboard/static/dashboard.css": PUBLIC,
    "GET /dashboard": Rule("session", frozenset({"admin", "editor", "viewer"})),
    "GET /dashboard/kpis/{kpi_id}": Rule("session", frozenset({"admin", "editor", "viewer"}), "own"),
    "GET /dashboard/export.csv": Rule("session", frozenset({"admin", "editor", "viewer"})),
    "GET /dashboard/kpis/{kpi_id}/export.csv": Rule("session", frozenset({"admin", "editor", "viewer"}), "own"),
    "GET /dashboard/notifications": Rule("session", frozenset({"admin", "editor", "viewer"})),
    "POST /dashboard/alerts/{alert_id}/ack": Rule("session", frozenset({"admin", "editor"}), "own"),
}

# Query parameters a read needs to answer 200 (the world's ids are filled in).
QUERIES = {
    "GET /v1/kpis/{kpi_id}/suggested-target": {"period": MONTH},
    "GET /v1/kpis/{kpi_id}/values": {"from": f"{MONTH}-01", "to": f"{MONTH}-02"},
    "GET /v1/reports/budget": {"plan_id": "{plan_id}"},
    "GET /v1/reports/scorecard": {"period": MONTH},
}

# Writes whose body is validated before the lookup: a valid one, so another organisation's id reaches the lookup
# (and answers 404) instead of stopping at 422. The other writes take `{}` (every field optional) or no body.
BODIES = {
    "PUT /v1/workflows/{workflow_id}/tools": {"tools": []},
    "POST /v1/workflows/{workflow_id}/steps": {"name": "Review"},
    "PUT /v1/workflows/{workflow_id}/steps/order": {"step_ids": ["{step_id}"]},
    "POST /v1/plans/{plan_id}/status": {"status": "active"},
    "POST /v1/plans/{plan_id}/campaigns": {
        "name": "Autumn",
        "channel": "meta",
        "start_date": f"{MONTH}-01",
        "end_date": f"{MONTH}-02",
    },
    "PUT /v1/plans/{plan_id}/budget": {"total": "100", "currency": "EUR"},
    "POST /v1/plans/{plan_id}/budget/lines": {"name": "Line", "channel": "meta", "planned_amount": "1"},
    "POST /v1/plans/{plan_id}/budget/reallocations": {
        "from_line_id": "{line_id}",
        "to_line_id": "{other_line_id}",
        "amount": "1",
        "reason": "test",
    },
    "POST /v1/kpis/{kpi_id}/targets": {"period": MONTH, "target_value": "1"},
    "POST /v1/notification-channels": {"name": "#c", "kind": "slack", "url": "http://127.0.0.1:9/hook"},
    "POST /v1/silences": {"ends_at": "{silence_end}", "comment": "why"},
}


# Writes with no id in their path, whose empty body (`{}`: change nothing) answers 200 and changes nothing.
EMPTY_PATCHES = {"PATCH /v1/org"}
# Writes with no id in their path that replace a whole document, which `{}` validly empties (200).
WHOLE_DOCUMENT_PUTS = {"PUT /v1/notification-routing"}


def route_table(app) -> dict[str, APIRoute]:
    """'METHOD /path' -> route, for every FastAPI route of the app (in the OpenAPI document or not)."""
    table = {}
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in context.methods:
                table[f"{method} {context.path}"] = context
    return table


def _fill(template, world: World):
    if isinstance(template, str):
        return world.fill(template) if "{" in template else template
    if isinstance(template, dict):
        return {k: _fill(v, world) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, world) for v in template]
    return template


def _unknown(path: str) -> str:
    """The path with every id replaced by one no organisation has."""
    return re.sub(
        r"\{(\w+)\}", lambda m: "no-such-name" if m.group(1) in ("key", "source") else str(uuid.uuid4()), path
    )


async def _call(client, name: str, path: str, headers: dict, world: World | None) -> httpx.Response:
    method = name.split(" ", 1)[0]
    query = _fill(QUERIES.get(name, {}), world) if world else {}
    kwargs = {}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = _fill(BODIES.get(name, {}), world) if world else {}
    return await client.request(method, path, params=query, headers=headers, **kwargs)


@dataclass
class Setup:
    world: World
    org_headers: dict
    keys: dict[str, str]
    other: dict  # another organisation's admin headers


async def build_setup(app) -> Setup:
    """One seeded organisation and its four keys, and a second organisation (tests/test_outages.py uses it too)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        org = await create_org(client, "Matrix A")
        other = await create_org(client, "Matrix B")
        world = await build_world(client, app.state.kpi, org)
        keys = {"admin": org.admin_key} | {role: await make_key(client, org, role) for role in ROLES[1:]}
        return Setup(world=world, org_headers=org.headers, keys=keys, other=other.headers)


@pytest.fixture(scope="module")
async def setup(app) -> Setup:
    """`build_setup`, shared by this module's tests, which change nothing they do not undo (refused calls, unknown
    ids, reads)."""
    return await build_setup(app)


def _keyed(app) -> dict[str, Rule]:
    return {name: RULES[name] for name in route_table(app) if RULES[name].via == "key"}


def test_every_route_has_exactly_one_rule(app):
    routes = set(route_table(app))
    missing = sorted(routes - set(RULES))
    assert not missing, f"new route(s) without their rule in tests/test_route_matrix.py RULES: {missing}"
    stale = sorted(set(RULES) - routes)
    assert not stale, f"rules for routes that no longer exist: {stale}"
    for name, rule in RULES.items():
        has_id = "{" in name
        assert (rule.ids != "none") == has_id, f"{name}: say whether its path id is the organisation's own"
        assert rule.via in ("key", "session", "platform", "public"), name
        assert (rule.via in ("key", "session")) == bool(rule.roles), name


async def test_without_a_key_every_keyed_route_is_401(client, app, setup):
    for name in _keyed(app):
        r = await _call(client, name, setup.world.fill(name.split(" ", 1)[1]), {}, setup.world)
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM, name


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_is_refused_where_its_rule_says(client, app, setup, role):
    """A refused role gets a 403 problem naming its role, even for ids that exist (the check precedes the lookup)."""
    headers = auth(setup.keys[role])
    refused = [name for name, rule in _keyed(app).items() if role not in rule.roles]
    for name in refused:
        r = await _call(client, name, setup.world.fill(name.split(" ", 1)[1]), headers, setup.world)
        assert r.status_code == 403, (name, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM, name
        assert f"this key is {role}" in r.json()["detail"], name


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_is_let_through_where_its_rule_says(client, app, setup, role):
    """An allowed role passes the check: reads of real objects answer 200; writes, sent to ids nobody has so that
    nothing changes, answer 404 or 422 from the route itself (an empty PATCH of the organisation: 200, nothing
    changed), never 401/403."""
    headers = auth(setup.keys[role])
    allowed = {name: rule for name, rule in _keyed(app).items() if role in rule.roles}
    assert allowed or role not in ROLES, role
    for name in allowed:
        method, path = name.split(" ", 1)
        if method == "GET":
            r = await _call(client, name, setup.world.fill(path), headers, setup.world)
            assert r.status_code == 200, (name, r.status_code, r.text)
        elif name in EMPTY_PATCHES:
            r = await _call(client, name, path, headers, None)
            assert r.status_code == 200 and r.json()["changes"] == [], (name, r.status_code, r.text)
        elif name in WHOLE_DOCUMENT_PUTS:
            r = await _call(client, name, path, headers, None)
            assert r.status_code == 200, (name, r.status_code, r.text)
        else:
            r = await _call(client, name, _unknown(path), headers, None)
            assert r.status_code in (400, 404, 409, 413, 415, 422), (name, r.status_code, r.text)


async def test_another_organisations_ids_answer_404(client, app, setup):
    """An admin of another organisation (every role check passes) names this organisation's objects: 404, and
    the objects are still there, unchanged."""
    owned = [name for name, rule in _keyed(app).items() if rule.ids == "own"]
    before = {}
    for name in owned:
        if name.startswith("GET "):
            before[name] = (
                await _call(client, name, setup.world.fill(name[4:]), setup.org_headers, setup.world)
            ).json()
    for name in owned:
        r = await _call(client, name, setup.world.fill(name.split(" ", 1)[1]), setup.other, setup.world)
        assert r.status_code == 404, (name, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM, name
    for name, body in before.items():
        after = (await _call(client, name, setup.world.fill(name[4:]), setup.org_headers, setup.world)).json()
        assert _stable(after) == _stable(body), name


def _stable(body):
    """A response without the fields that move with time alone (key use stamps, as-of dates, evaluations)."""
    if isinstance(body, dict):
        return {k: _stable(v) for k, v in body.items() if k not in ("last_used_at", "as_of", "generated_at", "today")}
    if isinstance(body, list):
        return [_stable(v) for v in body]
    return body


async def test_organisations_are_created_with_the_platform_token_only(client, setup):
    for headers in ({}, setup.org_headers, {"X-Platform-Token": "wrong"}):
        r = await client.post("/v1/orgs", json={"name": "Nope"}, headers=headers)
        assert r.status_code == 401, headers
    r = await client.post("/v1/orgs", json={"name": "Yes"}, headers={"X-Platform-Token": PLATFORM_TOKEN})
    assert r.status_code == 201


async def test_public_routes_answer_without_a_key(client, app):
    for name, rule in RULES.items():
        if rule.via == "public" and name.startswith("GET "):
            r = await client.get(name[4:])
            assert r.status_code in (200, 503), (name, r.status_code)  # /health/ready: 503 is its own answer


@asynccontextmanager
async def _browser(app, key: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.Response]]:
    """A browser of its own (its own cookies) that tried to sign in with `key`; the sign-in answer."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        form = await browser.get("/dashboard/login")
        csrf = CSRF.search(form.text).group(1)
        yield browser, await browser.post("/dashboard/login", data={"api_key": key, "csrf": csrf, "next": "/dashboard"})


async def test_dashboard_sessions_follow_the_rules(app, client, setup):
    """The dashboard's routes by session role: no session redirects to sign-in, an ingest key cannot sign in, a
    viewer reads but cannot acknowledge, and another organisation's KPI or alert is not found."""
    world = setup.world
    session_rules = {name: rule for name, rule in RULES.items() if rule.via == "session"}
    for name in session_rules:
        method, path = name.split(" ", 1)
        r = await client.request(method, world.fill(path), headers=auth(setup.keys["admin"]))
        assert r.status_code == 303 and "/dashboard/login" in r.headers["location"], name  # a key is no session

    for role in ROLES:
        async with _browser(app, setup.keys[role]) as (browser, r):
            if role not in {r for rule in session_rules.values() for r in rule.roles}:
                assert r.status_code == 403, role
                continue
            assert r.status_code == 303, role
            page = await browser.get("/dashboard")
            csrf = CSRF.search(page.text).group(1)
            for name, rule in session_rules.items():
                method, path = name.split(" ", 1)
                if method == "GET":
                    answer = await browser.get(world.fill(path))
                    assert answer.status_code == (200 if role in rule.roles else 403), (name, role)
                elif role in rule.roles:  # an unknown alert: allowed, and nothing changes
                    answer = await browser.post(_unknown(path), data={"csrf": csrf})
                    assert answer.status_code == 404, (name, role)
                else:
                    answer = await browser.post(world.fill(path), data={"csrf": csrf})
                    assert answer.status_code == 403, (name, role)

    other_admin = setup.other["Authorization"].removeprefix("Bearer ")
    async with _browser(app, other_admin) as (browser, _):
        csrf = CSRF.search((await browser.get("/dashboard")).text).group(1)
        for name, rule in session_rules.items():
            if rule.ids == "own":
                method, path = name.split(" ", 1)
                answer = await browser.request(
                    method, world.fill(path), data={"csrf": csrf} if method == "POST" else None
                )
                assert answer.status_code == 404, name


# ---- ids of another organisation in a query or a body -------------------------------------------------------------
# Which kind of object a request's id field names, by the field's own name (`objectives[].objective_id` is
# `objective_id`): the World parameter that holds one. The fields are found in the OpenAPI document (query
# parameters and request-body properties named *_id / *_ids, nested ones too), so a new field is exercised without
# anyone adding it; one whose name is not here fails `test_every_id_field_in_a_request_is_exercised` until it is
# added here, or to ID_FIELDS_NOT_EXERCISED with the reason.
ID_KINDS = {
    "parent_id": "team_id",
    "team_id": "team_id",
    "owner_team_id": "team_id",
    "position_id": "position_id",
    "owner_position_id": "position_id",
    "owner_member_id": "member_id",
    "business_goal_id": "goal_id",
    "objective_id": "objective_id",
    "plan_id": "plan_id",
    "campaign_id": "campaign_id",
    "line_id": "line_id",
    "from_line_id": "line_id",
    "to_line_id": "other_line_id",
    "kpi_id": "kpi_id",
    "kpi_ids": "kpi_id",
    "target_id": "target_id",
    "step_ids": "step_id",
    "endpoint_id": "endpoint_id",
    "team_ids": "team_id",
    "channel_ids": "channel_id",
    "default_channel_ids": "channel_id",
    "channel_id": "channel_id",
}
# "METHOD /path field" -> why another organisation's id cannot be sent there. Empty: every field is exercised.
ID_FIELDS_NOT_EXERCISED: dict[str, str] = {}

# Valid bodies (the caller's own ids) of the writes with an id field, so that the one foreign id is what the route
# refuses; "{uniq}" makes each request's names new. A write not listed takes `{}` (every field optional).
ID_BODIES = {
    "POST /v1/teams": {"name": "Team {uniq}"},
    "POST /v1/positions": {"title": "Analyst {uniq}", "team_id": "{team_id}"},
    "POST /v1/members": {"name": "Member {uniq}", "email": "m{uniq}@example.com"},
    "POST /v1/workflows": {
        "name": "Workflow {uniq}",
        "owner_team_id": "{team_id}",
        "steps": [{"name": "Brief"}],  # a step is owned by a team or a position: the field under test sets one
    },
    "POST /v1/workflows/{workflow_id}/steps": {"name": "Step {uniq}"},
    "PUT /v1/workflows/{workflow_id}/steps/order": {"step_ids": ["{step_id}"]},
    "POST /v1/objectives": {"statement": "Grow leads {uniq}"},
    "POST /v1/plans/{plan_id}/campaigns": {
        "name": "Campaign {uniq}",
        "channel": "meta",
        "start_date": f"{MONTH}-01",
        "end_date": f"{MONTH}-02",
    },
    "POST /v1/plans/{plan_id}/budget/lines": {"name": "Line {uniq}", "channel": "meta", "planned_amount": "1"},
    "POST /v1/plans/{plan_id}/budget/reallocations": {
        "from_line_id": "{line_id}",
        "to_line_id": "{other_line_id}",
        "amount": "1",
        "reason": "test",
    },
    "POST /v1/kpis": {
        "name": "KPI {uniq}",
        "category": "output",
        "formula": "clicks",
        "unit": "count",
        "direction": "higher_is_better",
        "objectives": [{"objective_id": "{objective_id}"}],
    },
    "PATCH /v1/kpis/{kpi_id}": {"objectives": [{"objective_id": "{objective_id}"}]},
    "POST /v1/kpi-templates/{key}/kpis": {"name": "Template KPI {uniq}"},
    "POST /v1/webhook-endpoints": {"url": "http://127.0.0.1:9/hook"},
    "PUT /v1/notification-routing": {"rules": [{"name": "r {uniq}", "channel_ids": ["{channel_id}"]}]},
    "POST /v1/silences": {"ends_at": "{silence_end}", "comment": "why {uniq}"},
}


@dataclass(frozen=True)
class IdField:
    operation: str  # "METHOD /path"
    where: str  # "query" or "body"
    path: tuple[str, ...]  # into the body: names, "[]" for every item of a list

    @property
    def name(self) -> str:
        return self.path[-1]

    def __str__(self) -> str:
        return f"{self.operation} {self.where}:{'.'.join(self.path).replace('.[]', '[]')}"


def _is_id(name: str) -> bool:
    return name.endswith(("_id", "_ids"))


def _body_id_paths(document: dict, schema: dict, at: tuple[str, ...] = (), depth: int = 0) -> set[tuple[str, ...]]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].split("/")[-1]]
    if depth > 6:
        return set()
    found: set[tuple[str, ...]] = set()
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        found |= _body_id_paths(document, alternative, at, depth + 1)
    if isinstance(schema.get("items"), dict):
        found |= _body_id_paths(document, schema["items"], (*at, "[]"), depth + 1)
    for name, child in schema.get("properties", {}).items():
        if _is_id(name):
            found.add((*at, name))
        found |= _body_id_paths(document, child, (*at, name), depth + 1)
    return found


def id_fields(app) -> list[IdField]:
    """Every id field a keyed operation takes in its query or its JSON body, from the OpenAPI document."""
    document = app.openapi()
    keyed = {name for name, rule in RULES.items() if rule.via == "key"}
    fields = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            name = f"{method.upper()} {path}"
            if name not in keyed:
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and _is_id(parameter["name"]):
                    fields.append(IdField(name, "query", (parameter["name"],)))
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if schema is not None:
                fields += [IdField(name, "body", p) for p in sorted(_body_id_paths(document, schema))]
    return fields


def _with(body, path: tuple[str, ...], value):
    """A copy of the body with the field at `path` set to `value` (in every item of a list; created if absent)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head == "[]":
        items = body if isinstance(body, list) and body else [{}]
        return [_with(item, rest, value) for item in items]
    body = dict(body or {})
    body[head] = _with(body.get(head), rest, value)
    return body


def test_every_id_field_in_a_request_is_exercised(app):
    fields = id_fields(app)
    assert len(fields) > 40, "id fields lost while reading the document"
    names = {str(f) for f in fields}
    unknown = sorted(str(f) for f in fields if f.name not in ID_KINDS and str(f) not in ID_FIELDS_NOT_EXERCISED)
    assert not unknown, f"id fields without their kind in tests/test_route_matrix.py ID_KINDS: {unknown}"
    stale = sorted(set(ID_FIELDS_NOT_EXERCISED) - names)
    assert not stale, f"exclusions of id fields that no longer exist: {stale}"
    assert not set(ID_BODIES) - {f.operation for f in fields}, "bodies for operations without an id field"


@pytest.fixture(scope="module")
async def foreign(app, setup) -> tuple[World, dict]:
    """A third organisation with objects of its own, and its admin's headers: it names the matrix organisation's
    objects (setup.world) in its queries and bodies."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        org = await create_org(client, "Matrix C")
        return await build_world(client, app.state.kpi, org), org.headers


async def _snapshot(client, app, world: World, headers: dict) -> dict:
    """Every read of an organisation (collections and its objects), without the fields that move with time."""
    reads = {}
    for name, rule in _keyed(app).items():
        if name.startswith("GET ") and "admin" in rule.roles:
            r = await _call(client, name, world.fill(name[4:]), headers, world)
            reads[name] = (r.status_code, _stable(r.json()) if r.status_code == 200 else None)
    return reads


async def test_another_organisations_ids_in_a_query_or_a_body_are_refused(client, app, setup, foreign):
    """The caller names its own objects in the path and one object of another organisation in a query parameter or
    a body field: the answer is 404 or 422 naming the field or the id, exactly as for an id nobody has, and neither
    organisation changes. A list or report filter (GET) may instead answer 200 with what an id nobody has gets:
    nothing of the other organisation, not even its id."""
    caller_world, caller = foreign
    victim = setup.world
    before = (
        await _snapshot(client, app, victim, setup.org_headers),
        await _snapshot(client, app, caller_world, caller),
    )
    problems = []
    for field in id_fields(app):
        if str(field) in ID_FIELDS_NOT_EXERCISED:
            continue
        method, path = field.operation.split(" ", 1)
        kind = ID_KINDS[field.name]
        answers = {}
        for who, value in (("foreign", victim.params[kind]), ("unknown", str(uuid.uuid4()))):
            value = [value] if field.name.endswith("_ids") else value
            query = _fill(QUERIES.get(field.operation, {}), caller_world)
            kwargs = {}
            if field.where == "query":
                query = {**query, field.name: value}
            if method in ("POST", "PUT", "PATCH"):
                base = ID_BODIES.get(field.operation, BODIES.get(field.operation, {}))
                base = _fill(json.loads(json.dumps(base).replace("{uniq}", uuid.uuid4().hex[:8])), caller_world)
                kwargs["json"] = _with(base, field.path, value) if field.where == "body" else base
            r = await client.request(method, caller_world.fill(path), params=query, headers=caller, **kwargs)
            answers[who] = r
        foreign_r, unknown_r = answers["foreign"], answers["unknown"]
        # A list or report filter answers as for an id nobody has: nothing (an empty page, an empty scorecard).
        filtered = (
            method == "GET"
            and foreign_r.status_code == unknown_r.status_code == 200
            and _stable(foreign_r.json()) == _stable(unknown_r.json())
            and victim.params[kind] not in foreign_r.text
        )
        ok_status = foreign_r.status_code in (404, 422) or filtered
        if not ok_status or foreign_r.status_code != unknown_r.status_code:
            problems.append(
                f"{field}: foreign {foreign_r.status_code} {foreign_r.text[:200]} / unknown {unknown_r.status_code}"
            )
            continue
        if foreign_r.status_code in (404, 422):
            named = field.name in foreign_r.text or victim.params[kind] in foreign_r.text
            if not named:  # refused for another reason: the body does not exercise the field (fix ID_BODIES)
                problems.append(f"{field}: refused without naming the field: {foreign_r.text[:300]}")
    after = (
        await _snapshot(client, app, victim, setup.org_headers),
        await _snapshot(client, app, caller_world, caller),
    )
    assert not problems, "\n".join(problems)
    for name in before[0]:
        assert after[0][name] == before[0][name], f"the other organisation changed: {name}"
    for name in before[1]:
        assert after[1][name] == before[1][name], f"the caller's organisation changed: {name}"
