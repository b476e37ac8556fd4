"""Bulk import: a CSV of posts, one row per post and channel, all or nothing.

Columns (header row, names case-insensitive): `text`, `channel_id` (required), `at`,
`timezone`, `tags` (separated by `|` or `;`), `campaign`, `media_url`, `media_kind`, `alt`,
`post`. An empty `at` makes a draft. Rows with the same non-empty `post` (any key the file
chooses) are one post on several channels, each row its channel's variant (text, media), the
first row's text the base copy; they share the time, so their `at` and `timezone` must agree.
A row without `post` is a post of its own. Each post goes through exactly what
`POST /v1/posts` does (the same model, channel checks, network rules and time rules); every
row is checked, and if any fails nothing is saved and the 422 lists each problem with its row
number (1 is the first row after the header) and column.
"""

from __future__ import annotations

import csv
import io
import re
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
    "post",
)  # fmt: skip
_TARGET_FIELD = re.compile(r"^targets\[(\d+)\]\.?(.*)$")


def _column(field: str) -> str:
    """The CSV column a `POST /v1/posts` field comes from."""
    for prefix, column in (
        ("schedule.timezone", "timezone"),
        ("schedule", "at"),
        ("targets[0].channel_id", "channel_id"),
        ("targets[0].text", "text"),
        ("targets[0].media", "media_url"),
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


def _media(row: dict[str, str]) -> list[dict[str, Any]] | None:
    if not row.get("media_url"):
        return None
    media: dict[str, Any] = {"url": row["media_url"], "kind": row.get("media_kind") or "image"}
    if row.get("alt"):
        media["alt"] = row["alt"]
    return [media]


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
    media = _media(row)
    if media:
        body["media"] = media
    return body


def group_body(rows: list[dict[str, str]]) -> dict[str, Any]:
    """One post from the rows sharing a `post` key: a target (and variant) per row."""
    if len(rows) == 1:
        return row_body(rows[0])
    body = row_body(rows[0])
    body.pop("media", None)
    body["targets"] = [
        {"channel_id": row.get("channel_id", ""), "text": row.get("text", ""), "media": _media(row)}
        for row in rows
    ]
    tags = [tag for row in rows for tag in row_body(row).get("tags", [])]
    if tags:
        body["tags"] = list(dict.fromkeys(tags))
    return body


def _locate(field: str, group: list[tuple[int, dict[str, str]]]) -> tuple[int, str]:
    """The row and column a field of a group's `POST /v1/posts` body came from."""
    match = _TARGET_FIELD.match(field)
    if match and int(match[1]) < len(group):
        return group[int(match[1])][0], _column(f"targets[0].{match[2]}")
    return group[0][0], _column(field)


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

    def problem(number: int, column: str, message: str, code: str) -> None:
        errors.append(
            {
                "row": number,
                "column": column,
                "field": f"rows[{number}].{column}",
                "message": message,
                "code": code,
            }
        )

    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for number, row in enumerate(rows, start=1):
        groups.setdefault(row.get("post") or f"\0row {number}", []).append((number, row))
    created: list[tuple[Post, list[Target]]] = []
    for group in groups.values():
        first = group[0][1]
        disagree = [
            (number, column)
            for number, row in group[1:]
            for column in ("at", "timezone")
            if row.get(column, "") != first.get(column, "")
        ]
        for number, column in disagree:
            problem(
                number,
                column,
                f"Rows of one post share its time; row {group[0][0]} has "
                f"{column} {first.get(column) or '(empty)'!r}.",
                "post_time_differs",
            )
        if disagree:
            continue
        try:
            body = PostIn.model_validate(group_body([row for _, row in group]))
        except ValidationError as exc:
            for err in exc.errors():
                number, column = _locate(field_path(err.get("loc", ())), group)
                problem(number, column, err.get("msg", "invalid"), err.get("type", "invalid"))
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
                number, column = _locate(str(err.get("field") or exc.field or "body"), group)
                problem(number, column, err.get("message", exc.detail), err.get("code", "invalid"))
    if errors:
        raise ValidationFailed(
            f"{len({e['row'] for e in errors})} of {len(rows)} row(s) are invalid; "
            "nothing was imported.",
            field=errors[0]["field"],
            errors=errors,
        )
    return created
