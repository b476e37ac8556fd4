"""Credentials at rest: the shared keyring (shared/sealing.py)."""

from shared.sealing import NONCE_BYTES, Keyring

__all__ = ["NONCE_BYTES", "Keyring"]
