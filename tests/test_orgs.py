"""An organisation is created with the platform token (HTTP or CLI) and gets its first admin key."""

import asyncio
import json
import os
import sys

from services.api.main import create_app
from tests.conftest import PLATFORM_TOKEN, auth, client_for, create_org
from tests.support import ROOT

PROBLEM = "application/problem+json"


async def test_platform_token_creates_org_with_working_admin_key(client):
    r = await client.post("/v1/orgs", json={"name": "Acme Retail"}, headers={"X-Platform-Token": PLATFORM_TOKEN})
    assert r.status_code == 201
    body = r.json()
    assert body["org"]["name"] == "Acme Retail"
    assert body["api_key"]["role"] == "admin"
    key = body["api_key"]["key"]
    assert key.startswith("kpi_" + body["api_key"]["prefix"] + "_")

    listed = await client.get("/v1/api-keys", headers=auth(key))
    assert listed.status_code == 200
    [only] = listed.json()["items"]
    assert only["id"] == body["api_key"]["id"]
    assert "key" not in only and "secret_hash" not in only


async def test_missing_or_wrong_platform_token_is_401(client):
    missing = await client.post("/v1/orgs", json={"name": "x"})
    wrong = await client.post("/v1/orgs", json={"name": "x"}, headers={"X-Platform-Token": "guess"})
    for r in (missing, wrong):
        assert r.status_code == 401
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["title"] == "Authentication required"


async def test_org_bootstrap_is_off_without_a_platform_token(settings, database):
    async with client_for(create_app(settings.model_copy(update={"platform_token": None}))) as c:
        r = await c.post("/v1/orgs", json={"name": "x"}, headers={"X-Platform-Token": ""})
    assert r.status_code == 401
    assert "PLATFORM_TOKEN is not set" in r.json()["detail"]


async def test_invalid_org_name_is_422_and_creates_nothing(client, org):
    r = await client.post("/v1/orgs", json={"name": "   "}, headers={"X-Platform-Token": PLATFORM_TOKEN})
    assert r.status_code == 422
    assert r.json()["errors"][0]["location"] == "body.name"
    extra = await client.post(
        "/v1/orgs", json={"name": "ok", "plan": "gold"}, headers={"X-Platform-Token": PLATFORM_TOKEN}
    )
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["location"] == "body.plan"


async def test_cli_create_org_prints_a_key_the_api_accepts(client, settings):
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    env.pop("REDIS_URL", None)
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "services.api.cli", "create-org", "From The Shell"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    created = json.loads(stdout)
    assert created["name"] == "From The Shell"
    r = await client.get("/v1/api-keys", headers=auth(created["api_key"]))
    assert r.status_code == 200
    assert [k["id"] for k in r.json()["items"]] == [created["api_key_id"]]


async def test_two_orgs_get_distinct_ids_and_keys(client):
    a, b = await create_org(client, "A"), await create_org(client, "B")
    assert a.id != b.id and a.admin_key != b.admin_key
