"""Standard Webhooks signatures (https://www.standardwebhooks.com), as the public `standardwebhooks` library checks.

A secret is `whsec_` + base64 of random bytes; the HMAC key is those bytes. A signature is
`v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`; the `webhook-signature` header carries
one per secret, space-separated, so a receiver keeps verifying while a rotated secret overlaps the old one.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import time

PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def generate_secret() -> str:
    """A fresh `whsec_` secret: base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    """A `webhook-id`: "msg_" + a ULID (ms timestamp + 80 random bits), so ids sort by creation time."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    return "msg_" + "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `"{msg_id}.{timestamp}.{body}"` under this secret."""
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature per secret, space-separated (during a rotation both the old and the new secret sign)."""
    if not secrets_:
        raise ValueError("at least one secret is needed to sign a webhook")
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)


def headers(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The request headers of one delivery attempt: the three `webhook-*` headers and the content type."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, msg_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": "kpi-service-webhooks/1",
    }
