"""What the networks' handshakes and signatures share; each network's own checks are in its
pack (services/inbox/networks/).

Every check compares in constant time and works on the bytes as received; re-serialised JSON
would not hash the same.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import orjson


def hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def same(given: str, expected: str) -> bool:
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


def verify_token_ok(*, expected: str, given: str | None) -> bool:
    # An empty configured token would let anyone subscribe us to anything.
    return bool(expected) and given is not None and same(given, expected)
