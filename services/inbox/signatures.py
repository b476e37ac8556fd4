"""How each network proves a webhook is its own: handshakes and signatures over the raw body.

Every check compares in constant time and works on the bytes as received; re-serialised JSON
would not hash the same.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def x_crc_response(*, secret: str, crc_token: str) -> str:
    """X's challenge-response check: proves we hold the consumer secret."""
    return "sha256=" + base64.b64encode(_hmac(secret, crc_token.encode())).decode()


def x_signature_ok(*, secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    expected = "sha256=" + base64.b64encode(_hmac(secret, body)).decode()
    return _same(header.strip(), expected)


def meta_signature_ok(*, secret: str, body: bytes, header: str | None) -> bool:
    """Meta's X-Hub-Signature-256: `sha256=<hex HMAC-SHA256(app secret, raw body)>`."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return _same(header[len("sha256="):].strip().lower(), expected)


def verify_token_ok(*, expected: str, given: str | None) -> bool:
    # An empty configured token would let anyone subscribe us to anything.
    return bool(expected) and given is not None and _same(given, expected)
