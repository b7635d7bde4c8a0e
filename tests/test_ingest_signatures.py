"""An organisation can require its pushes of a source to be signed (`X-Hub-Signature-256`, Meta's scheme):
unsigned or wrongly signed pushes are a 401 and store nothing; other sources and organisations are unaffected."""

import hashlib
import hmac
import json

from sqlalchemy import select, text

from shared.ingest.models import IngestSourceConfig
from shared.webhooks.sealing import PREFIX
from tests.ingest_support import wait_done
from tests.test_ingest_config import META_REPORT

PROBLEM = "application/problem+json"


def secret_url(source: str = "meta") -> str:
    return f"/v1/ingest/sources/{source}/signing-secret"


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def push(client, headers, body: bytes, signature: str | None = None, source: str = "meta"):
    extra = {"Content-Type": "application/json"} | ({"X-Hub-Signature-256": signature} if signature else {})
    return await client.post(f"/v1/ingest/{source}", content=body, headers={**headers, **extra})


async def batch_count(client, headers) -> int:
    return len((await client.get("/v1/ingest/batches?limit=200", headers=headers)).json()["items"])


async def test_a_source_with_a_secret_takes_only_signed_pushes(client, keys, other_org):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    body = json.dumps(META_REPORT).encode()
    own = "my-relay-shared-secret-0123456789"
    r = await client.put(secret_url(), json={"secret": own}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "source": "meta",
        "secret": own,
        "header": "X-Hub-Signature-256",
        "format": "sha256=<hex HMAC-SHA256 of the raw request body>",
    }
    config = (await client.get("/v1/ingest/sources/meta/config", headers=keys.headers("viewer"))).json()
    assert config["signature_required"] is True and own not in json.dumps(config), "shown once"

    before = await batch_count(client, admin)
    for signature, says in (
        (None, "requires signed pushes"),
        (signed("another-secret-0123456789", body), "does not match"),
        (signed(own, body + b" "), "does not match"),  # the signature of other bytes
    ):
        r = await push(client, ingest, body, signature)
        assert r.status_code == 401, r.text
        assert r.headers["content-type"] == PROBLEM and says in r.json()["detail"]
    assert await batch_count(client, admin) == before, "a refused push stores nothing"

    r = await push(client, ingest, body, signed(own, body))
    assert r.status_code == 202, r.text
    assert (await wait_done(client, ingest, r.json()["batch_id"]))["status"] == "done"
    # Upper-case hex is the same signature.
    r = await push(client, ingest, body, signed(own, body).upper().replace("SHA256=", "sha256="))
    assert r.status_code in (200, 202), r.text

    # Another source of this organisation, and the same source of another organisation, need no signature.
    google = json.dumps(
        [
            {
                "customer": {"currencyCode": "USD"},
                "campaign": {"id": "1"},
                "segments": {"date": "2026-11-02"},
                "metrics": {"costMicros": "1000000"},
            }
        ]
    ).encode()
    assert (await push(client, ingest, google, source="google_ads")).status_code == 202
    assert (await push(client, other_org.headers, body)).status_code == 202


async def test_a_generated_secret_can_be_replaced_and_removed(client, keys, org, state):
    admin, ingest = keys.headers("admin"), keys.headers("ingest")
    body = json.dumps(META_REPORT).encode()
    first = (await client.put(secret_url(), json={}, headers=admin)).json()["secret"]
    async with state.db.engine.connect() as conn:
        stored = await conn.scalar(
            select(text("signing_secret")).select_from(IngestSourceConfig).where(IngestSourceConfig.org_id == org.id)
        )
    assert stored.startswith(PREFIX) and first not in stored, "sealed at rest, like webhook secrets"
    second = (await client.put(secret_url(), json={}, headers=admin)).json()["secret"]
    assert len(first) >= 40 and first != second
    assert (await push(client, ingest, body, signed(first, body))).status_code == 401, "the old secret is gone"
    assert (await push(client, ingest, body, signed(second, body))).status_code == 202

    assert (await client.delete(secret_url(), headers=admin)).status_code == 204
    assert (await push(client, ingest, body)).status_code in (200, 202), "unsigned pushes are accepted again"
    assert (await client.delete(secret_url(), headers=admin)).status_code == 404


async def test_only_admins_set_secrets_and_bad_ones_are_refused(client, keys):
    for role in ("editor", "viewer", "ingest"):
        assert (await client.put(secret_url(), json={}, headers=keys.headers(role))).status_code == 403
        assert (await client.delete(secret_url(), headers=keys.headers(role))).status_code == 403
    admin = keys.headers("admin")
    for bad in ({"secret": "short"}, {"secret": "x" * 101}, {"secret": 12345678901234567}, {"other": "field"}):
        r = await client.put(secret_url(), json=bad, headers=admin)
        assert r.status_code == 422, (bad, r.text)
    assert (await client.put(secret_url("nowhere"), json={}, headers=admin)).status_code == 404
    config = (await client.get("/v1/ingest/sources/meta/config", headers=admin)).json()
    assert config["signature_required"] is False, "nothing was stored by the refused requests"
