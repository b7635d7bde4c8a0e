"""API key format: `kpi_<prefix>_<secret>`. The prefix finds the row; only a hash of the secret is kept."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_SCHEME = "kpi"
PREFIX_BYTES = 6  # 12 hex characters: unique index, and enough to tell keys apart in a list


@dataclass(frozen=True)
class NewKey:
    prefix: str
    secret_hash: str
    plaintext: str


def hash_secret(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is safe here (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> NewKey:
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(32)
    return NewKey(prefix=prefix, secret_hash=hash_secret(secret), plaintext=f"{KEY_SCHEME}_{prefix}_{secret}")


def split_key(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, or None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or len(parts[1]) != PREFIX_BYTES * 2 or not parts[2]:
        return None
    return parts[1], parts[2]


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)
