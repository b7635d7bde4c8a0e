"""Failed authentication is throttled per client address and per key prefix: past the limit the caller gets a 429
with Retry-After before any database lookup, while successful callers and other addresses carry on.

Each test builds its own app with small limits (memory storage on SQLite, Redis on the Postgres run)."""

import logging
import re
import secrets
import uuid
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.requests import Request

from services.api.main import create_app
from services.api.throttle import AuthThrottle
from tests.conftest import PLATFORM_TOKEN, QueryCounter, auth, make_key

ATTACKER = "203.0.113.7"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def random_key(prefix: str | None = None) -> str:
    return f"kpi_{prefix or secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def prefix_of(key: str) -> str:
    return key.split("_")[1]


@asynccontextmanager
async def throttled(settings, per_address="5/minute", per_prefix="3/minute", **extra):
    """An app with small limits and throttle keys of its own; yields `at(address)` → a client from there."""
    update = {
        "auth_fail_limit_per_address": per_address,
        "auth_fail_limit_per_prefix": per_prefix,
        "auth_throttle_key_prefix": f"kpi-test:throttle:{uuid.uuid4()}",
        "run_crons": False,
        **extra,
    }
    app = create_app(settings.model_copy(update=update))
    clients: list[httpx.AsyncClient] = []

    def at(address: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 123)), base_url="http://testserver"
        )
        clients.append(client)
        return client

    async with app.router.lifespan_context(app):
        at.app = app
        try:
            yield at
        finally:
            for client in clients:
                await client.aclose()


def assert_throttled(r: httpx.Response, window_s: int = 60) -> None:
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["retry-after"]) <= window_s
    if r.headers["content-type"].startswith("application/problem+json"):
        assert r.json()["type"].endswith("/too-many-requests") and r.json()["status"] == 429


async def test_a_spray_of_wrong_keys_from_one_address_gets_429_and_costs_no_query(settings, database, org):
    async with throttled(settings, per_address="5/minute", per_prefix="100/minute") as at:
        attacker = at(ATTACKER)
        for _ in range(5):
            assert (await attacker.get("/v1/api-keys", headers=auth(random_key()))).status_code == 401
        r = await attacker.get("/v1/api-keys", headers=auth(random_key()))
        assert_throttled(r)

        with QueryCounter(at.app.state.kpi.db.engine) as queries:
            for _ in range(20):
                assert (await attacker.get("/v1/api-keys", headers=auth(random_key()))).status_code == 429
            # One wrong key from elsewhere is looked up as usual: the only statement in the window.
            assert (await at("198.51.100.1").get("/v1/api-keys", headers=auth(random_key()))).status_code == 401
        assert queries.count == 1

        # Someone else's valid key from another address is not touched by the attacker's failures.
        assert (await at("198.51.100.2").get("/v1/api-keys", headers=org.headers)).status_code == 200


async def test_malformed_keys_cost_no_query_and_are_counted(settings, database, org):
    """A key not in the exact format (services.api.orgs.keys.split_key) is refused without a lookup, and counted
    against its address like any wrong key."""
    prefix = prefix_of(org.admin_key)
    malformed = (
        f"kpi_{prefix.upper()}_{secrets.token_urlsafe(32)}",
        f"kpi_{prefix[:11]}g_{secrets.token_urlsafe(32)}",
        f"kpi_{prefix}_{secrets.token_urlsafe(32)[:42]}",
        f"kpi_{prefix}_{secrets.token_urlsafe(32)}A",
        f"kpi_{prefix}_wrong-secret",
    )
    async with throttled(settings, per_address="5/minute", per_prefix="100/minute") as at:
        attacker = at(ATTACKER)
        with QueryCounter(at.app.state.kpi.db.engine) as queries:
            for key in malformed:
                assert (await attacker.get("/v1/api-keys", headers=auth(key))).status_code == 401, key
            assert_throttled(await attacker.get("/v1/api-keys", headers=auth(random_key())))
            # The one lookup of the window: a well-formed key from elsewhere.
            assert (await at("198.51.100.4").get("/v1/api-keys", headers=auth(random_key()))).status_code == 401
        assert queries.count == 1
        # Counted per address only: the real prefix they named is not spent (its owner signs in from elsewhere).
        assert (await at("198.51.100.3").get("/v1/api-keys", headers=org.headers)).status_code == 200


async def test_successes_are_not_counted(settings, database, org):
    async with throttled(settings, per_address="3/minute") as at:
        client = at("192.0.2.10")
        for _ in range(10):
            assert (await client.get("/v1/api-keys", headers=org.headers)).status_code == 200
        for _ in range(3):
            assert (await client.get("/v1/api-keys", headers=auth(random_key()))).status_code == 401
        assert_throttled(await client.get("/v1/api-keys", headers=auth(random_key())))


async def test_a_missing_key_is_a_plain_401_and_not_counted(settings, database):
    async with throttled(settings, per_address="2/minute") as at:
        client = at("192.0.2.11")
        for _ in range(5):
            assert (await client.get("/v1/api-keys")).status_code == 401
        assert (await client.get("/v1/api-keys", headers=auth(random_key()))).status_code == 401


async def test_a_client_sharing_the_attackers_address_keeps_working_once_known(settings, database, client, org):
    """A key that authenticated from the address while failures were being counted stays usable there; a key
    first seen there during the lockout waits like everyone else at that address."""
    viewer = await make_key(client, org, "viewer")
    async with throttled(settings, per_address="5/minute", per_prefix="100/minute") as at:
        shared = at(ATTACKER)
        assert (await shared.get("/v1/api-keys", headers=auth(random_key()))).status_code == 401
        assert (await shared.get("/v1/api-keys", headers=org.headers)).status_code == 200  # remembered here
        for _ in range(10):
            await shared.get("/v1/api-keys", headers=auth(random_key()))
        assert_throttled(await shared.get("/v1/api-keys", headers=auth(random_key())))

        assert (await shared.get("/v1/api-keys", headers=org.headers)).status_code == 200
        assert_throttled(await shared.get("/v1/kpis", headers=auth(viewer)))
        assert (await at("192.0.2.12").get("/v1/kpis", headers=auth(viewer))).status_code == 200


async def test_a_brute_force_on_one_prefix_from_many_addresses_is_throttled(settings, database, client, org):
    victim = await make_key(client, org, "viewer")
    prefix = prefix_of(victim)
    async with throttled(settings, per_address="100/minute", per_prefix="3/minute") as at:
        for i in range(3):
            r = await at(f"198.51.100.{20 + i}").get("/v1/kpis", headers=auth(random_key(prefix)))
            assert r.status_code == 401
        assert_throttled(await at("198.51.100.30").get("/v1/kpis", headers=auth(random_key(prefix))))
        # Wrong secrets for the prefix answer 429 from anywhere; its owner is never locked out by them, and other
        # prefixes from the same addresses are not touched.
        assert (await at("198.51.100.31").get("/v1/kpis", headers=auth(victim))).status_code == 200
        assert (await at("198.51.100.30").get("/v1/api-keys", headers=org.headers)).status_code == 200


async def test_the_owner_of_a_hammered_prefix_keeps_working_from_where_it_is_known(settings, database, client, org):
    victim = await make_key(client, org, "viewer")
    prefix = prefix_of(victim)
    async with throttled(settings, per_address="100/minute", per_prefix="3/minute") as at:
        home = at("192.0.2.40")
        assert (await at("198.51.100.40").get("/v1/kpis", headers=auth(random_key(prefix)))).status_code == 401
        assert (await home.get("/v1/kpis", headers=auth(victim))).status_code == 200  # remembered at home
        for i in range(5):
            await at(f"198.51.100.{41 + i}").get("/v1/kpis", headers=auth(random_key(prefix)))
        assert_throttled(await at("198.51.100.50").get("/v1/kpis", headers=auth(random_key(prefix))))
        assert (await home.get("/v1/kpis", headers=auth(victim))).status_code == 200
        # A wrong secret for the hammered prefix is throttled from home too; the right one keeps working anywhere.
        assert_throttled(await home.get("/v1/kpis", headers=auth(random_key(prefix))))
        assert (await at("203.0.113.77").get("/v1/kpis", headers=auth(victim))).status_code == 200


async def test_wrong_platform_tokens_are_throttled_per_address(settings, database):
    async with throttled(settings, per_address="5/minute") as at:
        attacker = at(ATTACKER)
        for _ in range(5):
            r = await attacker.post("/v1/orgs", json={"name": "X"}, headers={"X-Platform-Token": secrets.token_hex()})
            assert r.status_code == 401
        r = await attacker.post("/v1/orgs", json={"name": "X"}, headers={"X-Platform-Token": secrets.token_hex()})
        assert_throttled(r)
        r = await attacker.post("/v1/orgs", json={"name": "X"}, headers={"X-Platform-Token": PLATFORM_TOKEN})
        assert_throttled(r)  # the right token from a locked address waits too: nothing tells it apart
        r = await at("192.0.2.50").post("/v1/orgs", json={"name": "X"}, headers={"X-Platform-Token": PLATFORM_TOKEN})
        assert r.status_code == 201


async def _sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await client.get("/dashboard/login")
    csrf = CSRF.search(form.text).group(1)
    return await client.post("/dashboard/login", data={"api_key": key, "csrf": csrf, "next": "/dashboard"})


async def test_wrong_dashboard_sign_ins_are_throttled(settings, database, client, org):
    viewer = await make_key(client, org, "viewer")
    async with throttled(settings, per_address="5/minute", per_prefix="100/minute") as at:
        attacker = at(ATTACKER)
        for _ in range(5):
            assert (await _sign_in(attacker, random_key())).status_code == 401
        with QueryCounter(at.app.state.kpi.db.engine) as queries:
            r = await _sign_in(attacker, random_key())
            assert_throttled(r)
            assert "Too many failed sign-ins" in r.text and "text/html" in r.headers["content-type"]
            assert (await _sign_in(at("192.0.2.60"), random_key())).status_code == 401
        assert queries.count == 1
        r = await _sign_in(at("192.0.2.61"), viewer)
        assert (r.status_code, r.headers["location"]) == (303, "/dashboard")


@pytest.mark.postgres_only
async def test_limits_are_shared_by_api_replicas_through_redis(settings, database):
    assert settings.redis_url, "the Postgres run configures Redis"
    common = {
        "auth_fail_limit_per_address": "4/minute",
        "auth_fail_limit_per_prefix": "100/minute",
        "auth_throttle_key_prefix": f"kpi-test:throttle:{uuid.uuid4()}",
        "run_crons": False,
    }
    one, two = (create_app(settings.model_copy(update=common)) for _ in range(2))
    async with one.router.lifespan_context(one), two.router.lifespan_context(two):
        replicas = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ATTACKER, 1)), base_url="http://x")
            for app in (one, two)
        ]
        try:
            for i in range(4):
                r = await replicas[i % 2].get("/v1/api-keys", headers=auth(random_key()))
                assert r.status_code == 401
            for replica in replicas:
                assert_throttled(await replica.get("/v1/api-keys", headers=auth(random_key())))
        finally:
            for replica in replicas:
                await replica.aclose()


async def test_a_throttle_store_outage_fails_open_with_a_warning(settings, database, org, caplog):
    """Redis down: authentication goes on unthrottled (never a 500, never everyone locked out)."""
    dead = {"redis_url": "redis://127.0.0.1:1/0", "per_address": "2/minute"}
    async with throttled(settings, **dead) as at:
        attacker = at(ATTACKER)
        with caplog.at_level(logging.WARNING, logger="services.api.throttle"):
            for _ in range(5):
                assert (await attacker.get("/v1/api-keys", headers=auth(random_key()))).status_code == 401
            assert (await attacker.get("/v1/api-keys", headers=org.headers)).status_code == 200
        assert "failing open" in caplog.text


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1), "headers": headers})


def test_the_client_address_ignores_x_forwarded_for_unless_the_proxy_is_trusted(settings):
    plain = AuthThrottle.from_settings(settings.model_copy(update={"redis_url": None}))
    assert plain.address_of(_request("10.0.0.5", "1.1.1.1")) == "10.0.0.5"

    behind = AuthThrottle.from_settings(
        settings.model_copy(update={"redis_url": None, "trusted_proxies": ["10.0.0.0/8"]})
    )
    # Read from the right: a client-supplied entry (1.1.1.1) left of the one our proxy appended is not believed.
    assert behind.address_of(_request("10.0.0.5", "1.1.1.1, 203.0.113.9")) == "203.0.113.9"
    assert behind.address_of(_request("10.0.0.5", "203.0.113.9, 10.0.0.7")) == "203.0.113.9"
    assert behind.address_of(_request("192.0.2.1", "1.1.1.1")) == "192.0.2.1"  # not from a trusted proxy
    assert behind.address_of(_request("10.0.0.5")) == "10.0.0.5"


def test_ipv6_clients_are_counted_by_their_64_bit_network(settings):
    throttle = AuthThrottle.from_settings(settings.model_copy(update={"redis_url": None}))
    assert throttle.address_of(_request("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64"
    assert throttle.address_of(_request("2001:db8:1:2:bbbb::2")) == "2001:db8:1:2::/64"
    assert throttle.address_of(_request("::ffff:192.0.2.1")) == "192.0.2.1"
