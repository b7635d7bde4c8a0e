"""API key format: `kpi_<prefix>_<secret>`. The prefix finds the row; only a hash of the secret is kept."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_SCHEME = "kpi"
PREFIX_BYTES = 6  # 12 hex characters: unique index, and enough to tell keys apart in a list
SECRET_BYTES = 32
SECRET_CHARS = -(-SECRET_BYTES * 4 // 3)  # token_urlsafe: base64url without padding, 43 characters
# Exactly what `generate_key` writes, nothing else: a malformed key never reaches a query (a NUL or a non-ASCII
# prefix would make Postgres refuse the statement while SQLite answers "not found"; now neither is asked).
_KEY = re.compile(rf"{KEY_SCHEME}_([0-9a-f]{{{PREFIX_BYTES * 2}}})_([A-Za-z0-9_-]{{{SECRET_CHARS}}})")


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
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return NewKey(prefix=prefix, secret_hash=hash_secret(secret), plaintext=f"{KEY_SCHEME}_{prefix}_{secret}")


def split_key(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, or None: `kpi_`, 12 lowercase hex characters, `_`, and 43 characters
    of the base64url alphabet, as `generate_key` makes them."""
    found = _KEY.fullmatch(token)
    return (found[1], found[2]) if found else None


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)
