"""Credentials at rest: AES-GCM with a key id stored beside each ciphertext.

Rotation without downtime: add the new key to `encryption_keys`, make it active, and every
secret written from then on uses it; old rows still open with the key id they name and are
re-sealed the next time they are written (for example at a token refresh).
"""

from __future__ import annotations

import base64
import os
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class Keyring:
    def __init__(self, *, keys: dict[str, str], active_key_id: str) -> None:
        self.keys = {key_id: AESGCM(base64.b64decode(v)) for key_id, v in keys.items()}
        self.active_key_id = active_key_id

    def seal(self, secret: dict[str, Any], *, context: str) -> tuple[str, bytes]:
        """Encrypts `secret`; `context` (the channel id) binds it to its row, so a ciphertext
        copied onto another channel does not open."""
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
