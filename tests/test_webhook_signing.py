"""Webhook signatures, checked the way integrators check them: with the public `standardwebhooks` library."""

import base64
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.webhooks import signing

BODY = json.dumps({"type": "kpi.off_track", "timestamp": "2026-11-28T05:00:00+00:00", "data": {"kpi": "cpa"}}).encode()


def _signed(secrets: list[str], body: bytes = BODY, timestamp: int | None = None) -> dict[str, str]:
    return signing.headers(secrets, signing.new_message_id(), timestamp or int(time.time()), body)


def test_a_receiver_verifies_a_delivery_with_the_library_and_gets_the_event():
    secret = signing.generate_secret()

    event = Webhook(secret).verify(BODY, _signed([secret]))

    assert event["type"] == "kpi.off_track"


def test_during_a_rotation_both_the_old_and_the_new_secret_verify():
    old, new = signing.generate_secret(), signing.generate_secret()
    headers = _signed([new, old])

    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(BODY, headers)["data"] == {"kpi": "cpa"}
    assert Webhook(new).verify(BODY, headers)["data"] == {"kpi": "cpa"}
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.generate_secret()).verify(BODY, headers)


def test_a_tampered_body_is_rejected():
    secret = signing.generate_secret()
    headers = _signed([secret])

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"cpa", b"roas"), headers)


def test_a_different_secret_is_rejected():
    headers = _signed([signing.generate_secret()])

    with pytest.raises(WebhookVerificationError):
        Webhook(signing.generate_secret()).verify(BODY, headers)


@pytest.mark.parametrize("age_s", [600, -600])
def test_a_timestamp_outside_five_minutes_is_rejected_even_when_correctly_signed(age_s):
    secret = signing.generate_secret()
    headers = _signed([secret], timestamp=int(time.time()) - age_s)

    with pytest.raises(WebhookVerificationError, match=r"too (old|new)"):
        Webhook(secret).verify(BODY, headers)


def test_a_changed_webhook_id_is_rejected():
    secret = signing.generate_secret()
    headers = _signed([secret])
    headers["webhook-id"] = signing.new_message_id()

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, headers)


def test_the_signature_matches_the_standard_webhooks_reference_example():
    signature = signing.sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )

    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_headers_are_the_standard_ones_with_a_json_content_type():
    secret = signing.generate_secret()

    headers = signing.headers([secret], "msg_1", 1764306000, BODY)

    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == "1764306000"
    assert headers["webhook-signature"] == signing.sign(secret, "msg_1", 1764306000, BODY)
    assert headers["content-type"] == "application/json"


def test_a_new_secret_is_whsec_and_32_random_bytes():
    secrets = {signing.generate_secret() for _ in range(50)}

    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", "whsec_abc$"])
def test_a_malformed_secret_cannot_sign(secret):
    with pytest.raises(ValueError, match="secret"):
        signing.sign(secret, "msg_1", 1, b"{}")


def test_signing_needs_at_least_one_secret():
    with pytest.raises(ValueError, match="at least one secret"):
        signing.signature_header([], "msg_1", 1, b"{}")


def test_message_ids_are_unique_prefixed_and_sort_by_creation_time():
    first = signing.new_message_id()
    time.sleep(0.002)
    batch = [signing.new_message_id() for _ in range(1000)]

    assert len(set(batch)) == 1000
    assert all(m.startswith("msg_") and len(m) == 30 and m[4:].isalnum() for m in batch)
    assert all(first < m for m in batch)
