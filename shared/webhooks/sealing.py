"""Webhook signing secrets sealed at rest: AES-256-GCM under a key from WEBHOOK_SECRET_KEY.

A receiver's `whsec_` secret must be readable to sign, so it cannot be hashed like an API key; sealing it
means a copy of the database (a backup, a read replica, a leaked dump) does not let anyone forge our webhooks.
The column type does the work: models and services always see the plain secret. Stored values are
`sealed:v1:` + base64url(nonce ‖ ciphertext ‖ tag), bound to the column's purpose as associated data. Without a
key (embedded default) secrets are stored as generated; a key set later reads those and seals on next write.
"""

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

PREFIX = "sealed:v1:"
_AAD = b"kpi-service webhook signing secret"
_NONCE_BYTES = 12


class SealingError(RuntimeError):
    """A sealed secret that cannot be opened: no key configured, or a different one."""


class SecretBox:
    def __init__(self, key: str | None):
        self._aead = AESGCM(hashlib.sha256(key.encode()).digest()) if key else None

    @property
    def sealing(self) -> bool:
        return self._aead is not None

    def seal(self, plain: str) -> str:
        if self._aead is None:
            return plain
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain.encode(), _AAD)
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # stored before a key was configured
        if self._aead is None:
            raise SealingError("a webhook secret is sealed but WEBHOOK_SECRET_KEY is not set")
        raw = base64.urlsafe_b64decode(stored.removeprefix(PREFIX))
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD).decode()
        except InvalidTag as exc:
            raise SealingError("a webhook secret was sealed under another WEBHOOK_SECRET_KEY") from exc


_box = SecretBox(None)


def configure(key: str | None) -> None:
    """Set the process's key (the API's create_app and the worker's startup call this from the settings)."""
    global _box
    _box = SecretBox(key)


class SealedSecret(TypeDecorator):
    """A text column holding a sealed secret; Python sees the plain value."""

    impl = String(200)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        return None if value is None else _box.seal(value)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        return None if value is None else _box.open(value)
