"""Webhook signing secrets are sealed at rest (AES-256-GCM under WEBHOOK_SECRET_KEY): the database holds no
secret in clear, the service still signs with it (every webhook test verifies signatures with it sealed)."""

import uuid

import pytest
from sqlalchemy import Uuid, bindparam, select, text

from shared.db.scoping import bind_org
from shared.webhooks.models import WebhookEndpoint
from shared.webhooks.sealing import PREFIX, SealingError, SecretBox
from shared.webhooks.signing import generate_secret
from tests.receiver import running_receiver


def test_a_sealed_secret_opens_to_itself_and_never_seals_the_same_twice():
    box, secret = SecretBox("key one"), generate_secret()
    first, second = box.seal(secret), box.seal(secret)
    assert first.startswith(PREFIX) and secret not in first and first != second
    assert box.open(first) == box.open(second) == secret


def test_a_sealed_secret_needs_its_own_key():
    sealed = SecretBox("key one").seal("whsec_abc")
    with pytest.raises(SealingError, match="another WEBHOOK_SECRET_KEY"):
        SecretBox("key two").open(sealed)
    with pytest.raises(SealingError, match="not set"):
        SecretBox(None).open(sealed)


def test_without_a_key_secrets_are_kept_as_generated_and_read_back_after_one_is_set():
    plain = SecretBox(None).seal("whsec_abc")
    assert plain == "whsec_abc"
    assert SecretBox("key one").open(plain) == "whsec_abc"


async def test_the_database_holds_the_secret_sealed_and_the_service_reads_it_plain(client, keys, state, org):
    async with running_receiver() as receiver:
        r = await client.post("/v1/webhook-endpoints", json={"url": receiver.url}, headers=keys.headers("admin"))
        assert r.status_code == 201, r.text
        endpoint_id, secret = r.json()["id"], r.json()["secret"]
        rotated = await client.post(f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret", headers=keys.headers("admin"))
        new_secret = rotated.json()["secret"]
    async with state.db.sessionmaker() as session:
        stored, previous = (
            await session.execute(
                text("SELECT secret, previous_secret FROM webhook_endpoints WHERE id = :id").bindparams(
                    bindparam("id", type_=Uuid())
                ),
                {"id": uuid.UUID(endpoint_id)},
            )
        ).one()
        assert stored.startswith(PREFIX) and previous.startswith(PREFIX)
        assert new_secret not in stored and secret not in previous
        bind_org(session, org.id)
        endpoint = await session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == uuid.UUID(endpoint_id)))
        assert (endpoint.secret, endpoint.previous_secret) == (new_secret, secret)


async def test_channel_credentials_are_sealed_at_rest_and_never_answered(client, keys, state):
    admin = keys.headers("admin")
    url = "http://127.0.0.1:9/services/T0AAA/B0BBB/secret-part-xyz"
    slack = await client.post(
        "/v1/notification-channels", json={"name": "#a", "kind": "slack", "url": url}, headers=admin
    )
    email = await client.post(
        "/v1/notification-channels",
        json={
            "name": "mail",
            "kind": "email",
            "email": {
                "host": "127.0.0.1",
                "port": 2525,
                "username": "bot",
                "password": "hunter2-smtp-pass",
                "sender": "kpi@example.com",
                "recipients": ["a@example.com"],
            },
        },
        headers=admin,
    )
    assert slack.status_code == email.status_code == 201, (slack.text, email.text)
    listed = (await client.get("/v1/notification-channels", headers=admin)).text
    assert "secret-part-xyz" not in listed and "hunter2-smtp-pass" not in listed
    assert email.json()["email"]["has_password"] is True and "password" not in email.json()["email"]
    async with state.db.sessionmaker() as session:
        stored = (
            (
                await session.execute(
                    text("SELECT secret FROM notification_channels WHERE id IN (:a, :b)").bindparams(
                        bindparam("a", type_=Uuid()), bindparam("b", type_=Uuid())
                    ),
                    {"a": uuid.UUID(slack.json()["id"]), "b": uuid.UUID(email.json()["id"])},
                )
            )
            .scalars()
            .all()
        )
    assert len(stored) == 2 and all(s.startswith(PREFIX) for s in stored)
    assert not any("secret-part-xyz" in s or "hunter2" in s for s in stored)
