"""Read models of other services' facts, kept from their events in any arrival order.

A row remembers when its facts were true (`facts_at`, the event's time); a fact older than
that changes nothing it describes, so late and redelivered events cannot undo newer ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_


def newer_fact(row: Any, new: Any) -> ColumnElement[bool]:
    """True where the arriving fact (`new`, an upsert's `excluded`) is not older than the row's."""
    return or_(row.facts_at.is_(None), row.facts_at <= new.facts_at)


def channel_facts(
    row: Any, new: Any, *, newer: ColumnElement[bool], newest: Iterable[str]
) -> dict[str, Any]:
    """The `SET` of an upsert from `channel.*` facts. A channel id stands for one account of
    one workspace for good, so those columns are always filled in; the `newest` columns
    follow the newer fact only; `facts_at` keeps the newest time."""
    return {
        "workspace_id": new.workspace_id,
        "network": new.network,
        "external_id": new.external_id,
        **{name: case((newer, new[name]), else_=row[name]) for name in newest},
        "facts_at": func.greatest(row.facts_at, new.facts_at),
    }
