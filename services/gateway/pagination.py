"""Opaque cursors for keyset pagination over (created_at, id): the platform's one style."""

from shared.pagination import decode_cursor, encode_cursor

__all__ = ["decode_cursor", "encode_cursor"]
