"""Secrets at rest: AES-GCM with a key id stored beside each ciphertext.

Channel credentials (publisher) and client webhook signing secrets (gateway) are sealed with
the service's keyring. Rotation without downtime: add the new key to `encryption_keys`, make
it active, and every secret written from then on uses it; old rows still open with the key id
they name. `python -m shared.reseal <service>` then moves every row to the active key (in
batches, resumable), after which the old key can be removed.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import model_validator

from shared.settings import DEVELOPMENT_ENVIRONMENTS, ServiceSettings

NONCE_BYTES = 12

# Only good for development and tests: a key everyone can read in the source.
DEVELOPMENT_KEY_ID = "dev-1"
DEVELOPMENT_KEY = base64.b64encode(b"herald-development-key-32-bytes!").decode()


class Keyring:
    def __init__(self, *, keys: dict[str, str], active_key_id: str) -> None:
        self.keys = {key_id: AESGCM(base64.b64decode(v)) for key_id, v in keys.items()}
        self.active_key_id = active_key_id

    def seal(self, secret: dict[str, Any], *, context: str) -> tuple[str, bytes]:
        """Encrypts `secret`; `context` (the row's id) binds it to its row, so a ciphertext
        copied onto another row does not open."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keys[self.active_key_id].encrypt(
            nonce, orjson.dumps(secret), context.encode()
        )
        return self.active_key_id, nonce + sealed

    def open(self, blob: bytes, *, key_id: str, context: str) -> dict[str, Any]:
        aead = self.keys.get(key_id)
        if aead is None:
            raise LookupError(f"encryption key {key_id!r} is no longer configured")
        plain = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        value: dict[str, Any] = orjson.loads(plain)
        return value


class SealingSettings(ServiceSettings):
    """Settings of a service that seals secrets at rest."""

    # key id → base64 of a 32-byte AES key (<SERVICE>_ENCRYPTION_KEYS or
    # HERALD_ENCRYPTION_KEYS, JSON). New secrets are sealed with `active_key_id`; older ids
    # stay listed until every row is re-sealed.
    encryption_keys: dict[str, str] = {DEVELOPMENT_KEY_ID: DEVELOPMENT_KEY}
    active_key_id: str = DEVELOPMENT_KEY_ID

    @model_validator(mode="after")
    def _keys(self) -> SealingSettings:
        if self.active_key_id not in self.encryption_keys:
            raise ValueError(f"active_key_id {self.active_key_id!r} is not among encryption_keys")
        for key_id, value in self.encryption_keys.items():
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"encryption key {key_id!r} is not base64") from exc
            if len(raw) != 32:
                raise ValueError(f"encryption key {key_id!r} must be 32 bytes, not {len(raw)}")
        # The public development key is refused even when it is only kept for old rows.
        if self.environment not in DEVELOPMENT_ENVIRONMENTS and (
            DEVELOPMENT_KEY in self.encryption_keys.values()
        ):
            raise ValueError(
                f"{self.service_name}: encryption_keys must hold a real key outside development "
                f"(environment={self.environment!r}); the development key is public"
            )
        return self

    def keyring(self) -> Keyring:
        return Keyring(keys=self.encryption_keys, active_key_id=self.active_key_id)
