"""Bulk import: a CSV of posts, one row per post and channel, all or nothing.

Columns (header row, names case-insensitive): `text`, `channel_id` (required), `at`,
`timezone`, `tags` (separated by `|` or `;`), `campaign`, `media_url`, `media_kind`, `alt`.
An empty `at` makes a draft. Each row goes through exactly what `POST /v1/posts` does (the
same model, channel checks, network rules and time rules); every row is checked, and if any
fails nothing is saved and the 422 lists each problem with its row number (1 is the first
row after the header) and column.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.channels import ChannelLookup
from services.scheduler.models import Post, Target
from services.scheduler.posts import create_post
from services.scheduler.schemas import PostIn
from services.scheduler.workspaces import Defaults
from shared.auth import Principal
from shared.errors import ValidationFailed, field_path
from shared.outbox import Outbox

MAX_ROWS = 2000
COLUMNS = (
    "text", "channel_id", "at", "timezone", "tags", "campaign", "media_url", "media_kind", "alt",
)  # fmt: skip


def _column(field: str) -> str:
    """The CSV column a `POST /v1/posts` field comes from."""
    for prefix, column in (
        ("schedule.timezone", "timezone"),
        ("schedule", "at"),
        ("targets[0].channel_id", "channel_id"),
        ("targets[0].text", "text"),
        ("targets", "channel_id"),
        ("media", "media_url"),
        ("tags", "tags"),
        ("campaign", "campaign"),
        ("text", "text"),
    ):
        if field.startswith(prefix):
            return column
    return field


def parse_rows(raw: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(raw.lstrip("\ufeff")))
    if not reader.fieldnames:
        raise ValidationFailed("The CSV is empty (a header row is required).", field="body")
    names = [name.strip().lower() for name in reader.fieldnames]
    unknown = [name for name in names if name not in COLUMNS]
    if unknown or "channel_id" not in names:
        raise ValidationFailed(
            f"Columns must be among {', '.join(COLUMNS)} and include channel_id"
            f" (unknown: {', '.join(unknown) or 'none'}).",
            field="header",
        )
    reader.fieldnames = names
    rows = [
        {k: (v or "").strip() for k, v in row.items() if k is not None}
        for row in reader
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]
    if not rows:
        raise ValidationFailed("The CSV has no rows.", field="body")
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(f"At most {MAX_ROWS} rows per import.", field="body")
    return rows


def row_body(row: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "text": row.get("text", ""),
        "targets": [{"channel_id": row.get("channel_id", "")}],
    }
    if row.get("at"):
        body["schedule"] = {"at": row["at"]}
        if row.get("timezone"):
            body["schedule"]["timezone"] = row["timezone"]
    tags = row.get("tags", "").replace(";", "|")
    if tags:
        body["tags"] = [tag.strip() for tag in tags.split("|") if tag.strip()]
    if row.get("campaign"):
        body["campaign"] = row["campaign"]
    if row.get("media_url"):
        media: dict[str, Any] = {"url": row["media_url"], "kind": row.get("media_kind") or "image"}
        if row.get("alt"):
            media["alt"] = row["alt"]
        body["media"] = [media]
    return body


async def import_posts(
    session: AsyncSession,
    *,
    principal: Principal,
    raw: str,
    lookup: ChannelLookup | None,
    outbox: Outbox,
    notify_horizon: float,
    defaults: Defaults,
    recurrence_horizon: timedelta,
) -> list[tuple[Post, list[Target]]]:
    """Creates every row's post, or raises one ValidationFailed listing every row's problems
    (the request's transaction then rolls back whatever rows went in before)."""
    rows = parse_rows(raw)
    errors: list[dict[str, Any]] = []
    created: list[tuple[Post, list[Target]]] = []
    for number, row in enumerate(rows, start=1):
        try:
            body = PostIn.model_validate(row_body(row))
        except ValidationError as exc:
            for err in exc.errors():
                field = field_path(err.get("loc", ()))
                errors.append(
                    {
                        "row": number,
                        "column": _column(field),
                        "field": f"rows[{number}].{_column(field)}",
                        "message": err.get("msg", "invalid"),
                        "code": err.get("type", "invalid"),
                    }
                )
            continue
        try:
            created.append(
                await create_post(
                    session,
                    principal=principal,
                    body=body,
                    lookup=lookup,
                    outbox=outbox,
                    notify_horizon=notify_horizon,
                    defaults=defaults,
                    recurrence_horizon=recurrence_horizon,
                )
            )
        except ValidationFailed as exc:
            for err in exc.errors or [{"field": exc.field or "body", "message": exc.detail}]:
                column = _column(str(err.get("field") or exc.field or "body"))
                errors.append(
                    {
                        "row": number,
                        "column": column,
                        "field": f"rows[{number}].{column}",
                        "message": err.get("message", exc.detail),
                        "code": err.get("code", "invalid"),
                    }
                )
    if errors:
        raise ValidationFailed(
            f"{len({e['row'] for e in errors})} of {len(rows)} row(s) are invalid; "
            "nothing was imported.",
            field=errors[0]["field"],
            errors=errors,
        )
    return created
