"""The dashboard's forms under the same rules as the API's inputs, alike on both backends: text the store cannot
hold (a NUL) is refused with the sign-in page re-rendered (422) before any query, a key that is not exactly a
key's format is never looked up, and both kinds of bad sign-in count as failed attempts in the throttle."""

import re
import secrets

import httpx

from tests.conftest import QueryCounter, make_key
from tests.test_auth_throttle import ATTACKER, assert_throttled, random_key, throttled

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NUL_KEYS = (
    f"kpi_{secrets.token_hex(6)[:11]}\x00_x",  # the auditor's key: 12 characters before the second "_", one a NUL
    f"kpi_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)[:42]}\x00",
    "\x00",
)
MALFORMED_KEYS = (
    f"kpi_{secrets.token_hex(6).upper()}_{secrets.token_urlsafe(32)}",  # the prefix is lowercase hex
    f"kpi_{'é' * 12}_{secrets.token_urlsafe(32)}",  # twelve characters, not hex
    f"kpi_{secrets.token_hex(6)[:11]}g_{secrets.token_urlsafe(32)}",
    f"kpi_{secrets.token_hex(7)[:13]}_{secrets.token_urlsafe(32)}",
    f"kpi_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)[:42]}",  # the secret is 43 characters
    f"kpi_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}A",
    f"kpi_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)[:42]}!",  # and base64url
    f"KPI_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}",
    "kpi_nope_0000000000000000000000000000",
)


async def _sign_in(client: httpx.AsyncClient, key: str, **extra: str) -> httpx.Response:
    form = await client.get("/dashboard/login")
    csrf = CSRF.search(form.text).group(1)
    return await client.post("/dashboard/login", data={"api_key": key, "csrf": csrf, "next": "/dashboard"} | extra)


async def _looked_up(client: httpx.AsyncClient) -> None:
    """A well-formed unknown key: the one lookup a counting window expects (a window must count something)."""
    r = await _sign_in(client, random_key())
    assert r.status_code == 401, r.text


def _sign_in_page(r: httpx.Response, status: int, message: str) -> None:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert "text/html" in r.headers["content-type"], r.headers["content-type"]
    assert message in r.text and 'name="api_key"' in r.text  # the form again, with the reason
    assert "kpi_session" not in r.headers.get("set-cookie", "")


async def test_a_nul_in_the_sign_in_key_is_a_422_page_and_costs_no_query(app, client):
    """Postgres cannot hold a NUL (its lookup used to fail: a JSON 422) while SQLite answered 401: both now refuse
    it before any query, with the sign-in page."""
    for key in NUL_KEYS:
        with QueryCounter(app.state.kpi.db.engine) as queries:
            r = await _sign_in(client, key)
            await _looked_up(client)
        _sign_in_page(r, 422, "The API key must not contain the NUL character")
        assert queries.count == 1, repr(key)


async def test_a_key_not_in_the_exact_format_is_refused_without_a_lookup(app, client):
    for key in MALFORMED_KEYS:
        with QueryCounter(app.state.kpi.db.engine) as queries:
            r = await _sign_in(client, key)
            await _looked_up(client)
        _sign_in_page(r, 401, "not valid or has been revoked")
        assert queries.count == 1, key


async def test_a_nul_in_another_field_is_a_422_page_and_the_key_is_not_looked_up(app, client, keys):
    with QueryCounter(app.state.kpi.db.engine) as queries:
        r = await _sign_in(client, keys.viewer, next="/dashboard\x00/x")
        await _looked_up(client)
    _sign_in_page(r, 422, "The field next must not contain the NUL character")
    assert 'value="/dashboard"' in r.text  # the refused target is not carried on
    assert queries.count == 1
    r = await _sign_in(client, keys.viewer, **{"x\x00": "1"})
    _sign_in_page(r, 422, "must not contain the NUL character")
    assert (await _sign_in(client, keys.viewer)).status_code == 303


async def test_signed_in_forms_refuse_a_nul_too(client, keys):
    assert (await _sign_in(client, keys.editor)).status_code == 303
    page = await client.get("/dashboard")
    csrf = CSRF.search(page.text).group(1)
    r = await client.post(
        "/dashboard/alerts/0194d3a0-0000-7000-8000-000000000001/ack", data={"csrf": csrf, "next": "/dashboard\x00"}
    )
    assert r.status_code == 422 and "text/html" in r.headers["content-type"] and "NUL" in r.text
    r = await client.post("/dashboard/logout", data={"csrf": csrf + "\x00"})
    assert r.status_code == 422 and "NUL" in r.text
    assert (await client.get("/dashboard")).status_code == 200  # still signed in


async def test_malformed_and_nul_keys_count_as_failed_sign_ins(settings, database, client, org):
    viewer = await make_key(client, org, "viewer")
    async with throttled(settings, per_address="4/minute", per_prefix="100/minute") as at:
        attacker = at(ATTACKER)
        assert (await _sign_in(attacker, NUL_KEYS[0])).status_code == 422
        assert (await _sign_in(attacker, NUL_KEYS[1])).status_code == 422
        assert (await _sign_in(attacker, MALFORMED_KEYS[0])).status_code == 401
        assert (await _sign_in(attacker, MALFORMED_KEYS[1])).status_code == 401
        with QueryCounter(at.app.state.kpi.db.engine) as queries:
            for key in (random_key(), NUL_KEYS[0], MALFORMED_KEYS[2]):
                r = await _sign_in(attacker, key)
                assert_throttled(r)
                assert "Too many failed sign-ins" in r.text and "text/html" in r.headers["content-type"]
            await _looked_up(at("192.0.2.71"))
        assert queries.count == 1
        # A NUL elsewhere in the form guesses no key: not counted.
        neighbour = at("192.0.2.70")
        for _ in range(6):
            assert (await _sign_in(neighbour, viewer, next="/dashboard\x00")).status_code == 422
        r = await _sign_in(neighbour, viewer)
        assert (r.status_code, r.headers["location"]) == (303, "/dashboard")
