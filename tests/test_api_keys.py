"""Admins manage keys; roles limit what a key may do; a key never sees another organisation."""

import secrets
import uuid

from sqlalchemy import select

from services.api.orgs.keys import generate_key, split_key
from shared.db.scoping import allow_all_orgs
from shared.orgs.models import ApiKey
from tests.conftest import auth, make_key

PROBLEM = "application/problem+json"


async def test_admin_creates_a_key_per_role_shown_once_and_stored_hashed(client, org, state):
    created = {}
    for role in ("admin", "editor", "viewer", "ingest"):
        r = await client.post("/v1/api-keys", json={"name": f"{role} bot", "role": role}, headers=org.headers)
        assert r.status_code == 201
        assert r.json()["role"] == role
        created[r.json()["id"]] = r.json()["key"]

    listed = (await client.get("/v1/api-keys", headers=org.headers)).json()["items"]
    assert {k["id"] for k in listed} == {*created, str(org.admin_key_id)}
    assert all("key" not in k for k in listed)

    async with state.db.sessionmaker() as session:
        allow_all_orgs(session)
        rows = (await session.scalars(select(ApiKey).where(ApiKey.org_id == org.id))).all()
    for row in rows:
        for plaintext in created.values():
            assert plaintext.split("_", 2)[2] not in (row.secret_hash, row.prefix, row.name)
        assert len(row.secret_hash) == 64


async def test_each_new_key_authenticates_with_its_own_role(client, org):
    viewer = await make_key(client, org, "viewer")
    r = await client.get("/v1/api-keys", headers=auth(viewer))
    assert r.status_code == 403
    assert r.json()["detail"] == "This needs a key with role admin; this key is viewer."


async def test_only_admins_manage_keys(client, org):
    for role in ("editor", "viewer", "ingest"):
        key = await make_key(client, org, role)
        create = await client.post("/v1/api-keys", json={"name": "x", "role": "viewer"}, headers=auth(key))
        listing = await client.get("/v1/api-keys", headers=auth(key))
        revoke = await client.delete(f"/v1/api-keys/{org.admin_key_id}", headers=auth(key))
        for r in (create, listing, revoke):
            assert r.status_code == 403, (role, r.request.method)
            assert r.headers["content-type"] == PROBLEM
    still = await client.get("/v1/api-keys", headers=org.headers)
    assert len(still.json()["items"]) == 4  # the admin and the three made above; nothing else created


async def test_another_orgs_key_is_invisible_and_its_id_is_404(client, org, other_org):
    a_viewer_id = (await client.post("/v1/api-keys", json={"name": "a", "role": "viewer"}, headers=org.headers)).json()[
        "id"
    ]

    b_list = (await client.get("/v1/api-keys", headers=other_org.headers)).json()["items"]
    assert [k["id"] for k in b_list] == [str(other_org.admin_key_id)]

    r = await client.delete(f"/v1/api-keys/{a_viewer_id}", headers=other_org.headers)
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    a_list = (await client.get("/v1/api-keys", headers=org.headers)).json()["items"]
    assert a_viewer_id in {k["id"] for k in a_list}, "B's attempt must not have revoked A's key"


async def test_revoked_key_stops_working_and_stays_listed_on_request(client, org):
    editor = await make_key(client, org, "admin", name="second admin")
    editor_id = next(
        k["id"]
        for k in (await client.get("/v1/api-keys", headers=org.headers)).json()["items"]
        if k["name"] == "second admin"
    )
    assert (await client.delete(f"/v1/api-keys/{editor_id}", headers=org.headers)).status_code == 204
    assert (await client.get("/v1/api-keys", headers=auth(editor))).status_code == 401
    active = (await client.get("/v1/api-keys", headers=org.headers)).json()["items"]
    assert editor_id not in {k["id"] for k in active}
    everything = (await client.get("/v1/api-keys?include_revoked=true", headers=org.headers)).json()["items"]
    revoked = next(k for k in everything if k["id"] == editor_id)
    assert revoked["revoked_at"] is not None
    assert (await client.delete(f"/v1/api-keys/{editor_id}", headers=org.headers)).status_code == 204


async def test_the_last_admin_key_cannot_be_revoked(client, org):
    r = await client.delete(f"/v1/api-keys/{org.admin_key_id}", headers=org.headers)
    assert r.status_code == 409
    assert "last active admin key" in r.json()["detail"]
    assert (await client.get("/v1/api-keys", headers=org.headers)).status_code == 200


async def test_keys_page_by_cursor_without_gaps_or_repeats(client, org):
    for i in range(5):
        await make_key(client, org, "viewer", name=f"k{i}")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/api-keys", params=params, headers=org.headers)).json()
        seen += [k["name"] for k in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == ["admin (bootstrap)", "k0", "k1", "k2", "k3", "k4"]
    viewers = (await client.get("/v1/api-keys?role=viewer", headers=org.headers)).json()["items"]
    assert len(viewers) == 5


async def test_bad_list_parameters_are_422(client, org):
    for query in ("limit=0", "limit=201", "cursor=not-a-cursor!", "role=owner"):
        r = await client.get(f"/v1/api-keys?{query}", headers=org.headers)
        assert r.status_code == 422, query
        assert r.headers["content-type"] == PROBLEM


async def test_malformed_or_unknown_bearer_keys_are_401(client, org):
    prefix = org.admin_key.split("_")[1]
    for header in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        auth("not-a-key"),
        auth(f"kpi_{prefix}_wrong-secret"),
        auth(f"kpi_{prefix}_{secrets.token_urlsafe(32)}"),  # well-formed: its prefix is looked up, the secret fails
        auth(f"kpi_{uuid.uuid4().hex[:12]}_whatever"),
        auth(f"kpi_{uuid.uuid4().hex[:12]}_{secrets.token_urlsafe(32)}"),
    ):
        r = await client.get("/v1/api-keys", headers=header)
        assert r.status_code == 401, header
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_only_a_key_in_the_exact_generated_format_is_split():
    """`kpi_`, 12 lowercase hex, `_`, 43 base64url characters: anything else never reaches a lookup."""
    for _ in range(500):
        new = generate_key()
        assert split_key(new.plaintext) == (new.prefix, new.plaintext.split("_", 2)[2])
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    for token in (
        f"kpi_{prefix[:11]}\x00_x",
        f"kpi_{prefix[:11]}\x00_{secret}",
        f"kpi_{prefix.upper()}_{secret}",
        f"kpi_{'é' * 12}_{secret}",
        f"kpi_{'١' * 12}_{secret}",  # Arabic-Indic digits: "digits", not hex
        f"kpi_{prefix}0_{secret}",
        f"kpi_{prefix}_{secret[:-1]}",
        f"kpi_{prefix}_{secret}A",
        f"kpi_{prefix}_{secret[:-1]}=",
        f"kpi_{prefix}_{secret[:-1]}\x00",
        f"kpi_{prefix}_{secret}\n",
        f" kpi_{prefix}_{secret}",
        f"KPI_{prefix}_{secret}",
        f"kpi-{prefix}_{secret}",
        f"kpi_{prefix}_",
        "kpi_nope_0000000000000000000000000000",
        "",
    ):
        assert split_key(token) is None, repr(token)


async def test_key_use_is_recorded(client, org):
    await client.get("/v1/api-keys", headers=org.headers)
    [me] = (await client.get("/v1/api-keys", headers=org.headers)).json()["items"]
    assert me["last_used_at"] is not None
