"""How each network proves a webhook is its own: handshakes and signatures over the raw body.

Every check compares in constant time and works on the bytes as received; re-serialised JSON
would not hash the same.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid

import orjson


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


# What the networks send as a challenge: short and URL-safe (X's crc_token, Meta's and the
# WebSub hub's hub.challenge), or a UUID (LinkedIn's challengeCode). Anything else is refused:
# the X and LinkedIn answers are an HMAC with the very secret that signs events, so answering
# a chosen text would sign a chosen webhook body.
_CHALLENGE = re.compile(r"[A-Za-z0-9_\-]{1,128}={0,2}")


class BadChallenge(ValueError):
    """The challenge is not of the shape the network sends."""


def check_challenge(value: str) -> str:
    """`value` if it is a plain token of the networks' shape; raises BadChallenge."""
    if not _CHALLENGE.fullmatch(value):
        raise BadChallenge("must be 1 to 128 characters of A-Z, a-z, 0-9, '-' and '_'")
    return value


def check_signed_challenge(value: str) -> str:
    """A challenge answered with an HMAC: a plain token that no webhook body can equal.

    A token that is itself a JSON document (`12345`, `null`, `true`) is refused as well, so no
    challenge response is ever the signature of a body the receivers would parse.
    """
    check_challenge(value)
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    raise BadChallenge("must not be a JSON value")


def check_linkedin_challenge(value: str) -> str:
    """LinkedIn's challengeCode is a UUID in its usual text form; raises BadChallenge."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise BadChallenge("must be a UUID") from None
    if str(parsed) != value.lower():
        raise BadChallenge("must be a UUID")
    return value


def x_crc_response(*, secret: str, crc_token: str) -> str:
    """X's challenge-response check: proves we hold the consumer secret."""
    check_signed_challenge(crc_token)
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
    return _same(header[len("sha256=") :].strip().lower(), expected)


def verify_token_ok(*, expected: str, given: str | None) -> bool:
    # An empty configured token would let anyone subscribe us to anything.
    return bool(expected) and given is not None and _same(given, expected)


def linkedin_challenge_response(*, secret: str, challenge_code: str) -> str:
    """LinkedIn's endpoint validation: hex HMAC-SHA256 of the challengeCode."""
    check_linkedin_challenge(challenge_code)
    return hmac.new(secret.encode(), challenge_code.encode(), hashlib.sha256).hexdigest()


LINKEDIN_PREFIX = "hmacsha256="


def linkedin_signature_ok(*, secret: str, body: bytes, header: str | None) -> bool:
    """X-LI-Signature: hex HMAC-SHA256(client secret, raw body).

    LinkedIn's documentation shows the value both with and without the `hmacsha256=` prefix,
    so both forms are accepted; the HMAC itself always covers the body alone.
    """
    if not header:
        return False
    given = header.strip()
    if given[: len(LINKEDIN_PREFIX)].lower() == LINKEDIN_PREFIX:
        given = given[len(LINKEDIN_PREFIX) :]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return _same(given.lower(), expected)


class StaleSignature(Exception):
    """The signature's timestamp is outside the allowed tolerance (a replay, or a bad clock)."""


def tiktok_signature_ok(
    *, secret: str, body: bytes, header: str | None, now: float, tolerance: float
) -> bool:
    """TikTok-Signature: `t=<unix seconds>,s=<hex HMAC-SHA256(secret, "{t}." + raw body)>`.

    Raises StaleSignature when the signature is right but its timestamp is too far from `now`.
    """
    if not header:
        return False
    parts: dict[str, str] = {}
    for piece in header.split(","):
        key, sep, value = piece.strip().partition("=")
        if sep:
            parts.setdefault(key.strip(), value.strip())
    stamp, given = parts.get("t", ""), parts.get("s", "")
    if not stamp.isdigit() or not given:
        return False
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not _same(given.lower(), expected):
        return False
    if abs(now - int(stamp)) > tolerance:
        raise StaleSignature(stamp)
    return True


def websub_signature_ok(*, secret: str, body: bytes, header: str | None) -> bool:
    """WebSub's X-Hub-Signature: `<sha1|sha256|sha384|sha512>=<hex HMAC(hub.secret, body)>`."""
    if not header:
        return False
    method, sep, given = header.strip().partition("=")
    if not sep or method not in ("sha1", "sha256", "sha384", "sha512"):
        return False
    expected = hmac.new(secret.encode(), body, method).hexdigest()
    return _same(given.lower(), expected)
