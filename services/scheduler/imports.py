"""Bulk import and export: a CSV of posts, one row per post and channel, all or nothing.

Columns (header row, names case-insensitive): `text`, `channel_id` (required), `at`,
`timezone`, `tags` (separated by `|` or `;`), `campaign`, `media_url`, `media_kind`, `alt`,
`post`, and `option.<name>` for a target option of the row's network (`option.title` for a
YouTube title, `option.privacy_level` for TikTok, `option.privacy_status` for YouTube,
`option.first_comment`, …; an option the row's network does not have is refused on that row).
Several media per row: `media_url`, `media_kind` and `alt` take `|`-separated lists, item by
item (one `media_kind` stands for every item). An empty `at` makes a draft. Rows with the
same non-empty `post` (any key the file chooses) are one post on several channels, each row
its channel's variant (text, media, options), the first row's text the base copy; they share
the time, so their `at` and `timezone` must agree.
A row without `post` is a post of its own. Each post goes through exactly what
`POST /v1/posts` does (the same model, channel checks, network rules and time rules); every
row is checked, and if any fails nothing is saved and the 422 lists each problem with its row
number (1 is the first row after the header) and column. A dry run does all of it in a
savepoint rolled back at the end and answers every row's problems, nothing kept.

The export (`GET /v1/posts` with `Accept: text/csv`) writes the same columns, plus `status`
and `url`, which an import reads past (they describe what happened, not what to plan): an
exported file imports again as new posts. A time is written as the post asked for it; a
recurring post, or one placed in a slot, writes its next planned time on its channel's clock.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import Request, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.channels import ChannelLookup
from services.scheduler.models import SETTLED, Post, Target
from services.scheduler.posts import create_post
from services.scheduler.schemas import PostIn
from services.scheduler.timing import local_time
from services.scheduler.workspaces import Defaults
from shared.auth import Principal
from shared.errors import ValidationFailed, field_path
from shared.limits import PayloadTooLarge
from shared.networks import UnknownNetwork, rules_for
from shared.outbox import Outbox

MAX_ROWS = 2000
MAX_MEDIA_PER_ROW = 20
COLUMNS = (
    "text", "channel_id", "at", "timezone", "tags", "campaign", "media_url", "media_kind", "alt",
    "post",
)  # fmt: skip
OPTION_PREFIX = "option."
# Written by the export, read past by the import.
EXPORT_ONLY = ("status", "url")
# Options a CSV cell can hold (a thread is a list, which one cell cannot say).
_SCALAR_OPTIONS = frozenset(
    {"title", "privacy_level", "privacy_status", "post_type", "first_comment", "spoiler_text"}
)
_NEVER = datetime.max.replace(tzinfo=UTC)
_TARGET_FIELD = re.compile(r"^targets\[(\d+)\]\.?(.*)$")


def _column(field: str) -> str:
    """The CSV column a `POST /v1/posts` field comes from."""
    option = re.match(r"^targets\[\d+\]\.options\.(\w+)", field)
    if option:
        return OPTION_PREFIX + option[1]
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
    unknown = [
        name
        for name in names
        if name not in COLUMNS
        and name not in EXPORT_ONLY
        and not (name.startswith(OPTION_PREFIX) and name[len(OPTION_PREFIX) :] in _SCALAR_OPTIONS)
    ]
    if unknown or "channel_id" not in names:
        raise ValidationFailed(
            f"Columns must be among {', '.join(COLUMNS)}, "
            f"{', '.join(OPTION_PREFIX + o for o in sorted(_SCALAR_OPTIONS))}"
            " and include channel_id"
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


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split("|")]


def _media(row: dict[str, str]) -> list[dict[str, Any]] | None:
    """The row's media items: `media_url`, `media_kind`, `alt` read item by item."""
    if not row.get("media_url"):
        return None
    urls = _split(row["media_url"])
    kinds = _split(row.get("media_kind"))
    alts = _split(row.get("alt"))
    media: list[dict[str, Any]] = []
    for index, url in enumerate(urls):
        kind = kinds[index] if index < len(kinds) else kinds[0]
        item: dict[str, Any] = {"url": url, "kind": kind or "image"}
        alt = alts[index] if index < len(alts) else ""
        if alt:
            item["alt"] = alt
        media.append(item)
    return media


def _options(row: dict[str, str]) -> dict[str, str]:
    return {
        name[len(OPTION_PREFIX) :]: value
        for name, value in row.items()
        if name.startswith(OPTION_PREFIX) and value
    }


def known_options(network: str) -> set[str]:
    """The target options `network` reads; anything else in a row would be dropped."""
    try:
        rules = rules_for(network)
    except UnknownNetwork:
        return set()
    names = {rule.name for rule in rules.options}
    if rules.title is not None:
        names.add(rules.title.option)
    if rules.features.first_comment:
        names.add("first_comment")
    if rules.features.spoiler_text:
        names.add("spoiler_text")
    return names


def row_body(row: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "text": row.get("text", ""),
        "targets": [{"channel_id": row.get("channel_id", ""), "options": _options(row)}],
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
        {
            "channel_id": row.get("channel_id", ""),
            "text": row.get("text", ""),
            "media": _media(row),
            "options": _options(row),
        }
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


@dataclass
class ImportRun:
    """What an import did or would do: the posts made, and every row's problems."""

    rows: int
    created: list[tuple[Post, list[Target]]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def problem(self, number: int, column: str, message: str, code: str) -> None:
        self.errors.append(
            {
                "row": number,
                "column": column,
                "field": f"rows[{number}].{column}",
                "message": message,
                "code": code,
            }
        )


def _times_disagree(run: ImportRun, group: list[tuple[int, dict[str, str]]]) -> bool:
    first = group[0][1]
    disagree = [
        (number, column)
        for number, row in group[1:]
        for column in ("at", "timezone")
        if row.get(column, "") != first.get(column, "")
    ]
    for number, column in disagree:
        run.problem(
            number,
            column,
            f"Rows of one post share its time; row {group[0][0]} has "
            f"{column} {first.get(column) or '(empty)'!r}.",
            "post_time_differs",
        )
    return bool(disagree)


def _refuse_foreign_options(
    run: ImportRun, group: list[tuple[int, dict[str, str]]], targets: list[Target]
) -> bool:
    """Problems for options the row's network does not read; True when there were any."""
    refused = False
    network_of = {t.channel_id: t.network for t in targets}
    for number, row in group:
        try:
            network = network_of.get(UUID(row.get("channel_id", "")))
        except ValueError:
            continue
        if network is None:
            continue
        for name in sorted(set(_options(row)) - known_options(network)):
            run.problem(
                number,
                OPTION_PREFIX + name,
                f"{network} has no option {name!r}; it would not be carried out.",
                "option_not_supported",
            )
            refused = True
    return refused


async def _run_import(
    session: AsyncSession, *, rows: list[dict[str, str]], **create: Any
) -> ImportRun:
    run = ImportRun(rows=len(rows))
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for number, row in enumerate(rows, start=1):
        groups.setdefault(row.get("post") or f"\0row {number}", []).append((number, row))
    for group in groups.values():
        if _times_disagree(run, group):
            continue
        try:
            body = PostIn.model_validate(group_body([row for _, row in group]))
        except ValidationError as exc:
            for err in exc.errors():
                number, column = _locate(field_path(err.get("loc", ())), group)
                run.problem(number, column, err.get("msg", "invalid"), err.get("type", "invalid"))
            continue
        try:
            post, targets = await create_post(session, body=body, **create)
        except ValidationFailed as exc:
            for err in exc.errors or [{"field": exc.field or "body", "message": exc.detail}]:
                number, column = _locate(str(err.get("field") or exc.field or "body"), group)
                run.problem(
                    number, column, err.get("message", exc.detail), err.get("code", "invalid")
                )
            continue
        if not _refuse_foreign_options(run, group, targets):
            run.created.append((post, targets))
    return run


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
    dry_run: bool = False,
) -> ImportRun:
    """Creates every row's post, or raises one ValidationFailed listing every row's problems
    (the request's transaction then rolls back whatever rows went in before).

    A dry run checks exactly the same way inside a savepoint it rolls back, and answers the
    problems instead of raising: nothing is saved and no event leaves."""
    rows = parse_rows(raw)
    create = {
        "principal": principal,
        "lookup": lookup,
        "outbox": outbox,
        "notify_horizon": notify_horizon,
        "defaults": defaults,
        "recurrence_horizon": recurrence_horizon,
    }
    if dry_run:
        savepoint = await session.begin_nested()
        try:
            return await _run_import(session, rows=rows, **create)
        finally:
            await savepoint.rollback()
    run = await _run_import(session, rows=rows, **create)
    if run.errors:
        raise ValidationFailed(
            f"{len({e['row'] for e in run.errors})} of {len(rows)} row(s) are invalid; "
            "nothing was imported.",
            field=run.errors[0]["field"],
            errors=run.errors,
        )
    return run


EXPORT_COLUMNS = (*COLUMNS, "status", "url")


def wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip() == "text/csv" for part in accept.split(","))


def _planned_time(post: Post, target: Target) -> tuple[str, str]:
    """`at` and `timezone` as the post asked for them (its rows then agree, as an import
    wants), else the target's due time on its own clock (queue, best, recurring)."""
    schedule = post.schedule or {}
    if schedule.get("at") and not schedule.get("rrule") and target.status not in SETTLED:
        return str(schedule["at"]), str(schedule.get("timezone") or "")
    if target.due_at is None or not target.timezone:
        return "", ""
    local = local_time(target.due_at, target.timezone).replace(tzinfo=None)
    return local.isoformat(), target.timezone


def _export_row(post: Post, target: Target, options: list[str]) -> list[str]:
    media = target.media if target.media is not None else post.media or []
    at, zone_name = _planned_time(post, target)
    alts = [item.get("alt") or "" for item in media]
    row = [
        target.text if target.text is not None else post.text,
        str(target.channel_id),
        at,
        zone_name,
        "|".join(post.tags or []),
        post.campaign or "",
        "|".join(item["url"] for item in media),
        "|".join(item.get("kind", "image") for item in media),
        "|".join(alts) if any(alts) else "",
        str(post.id),
        target.status,
        target.url or "",
    ]
    return row + [str((target.options or {}).get(name, "")) for name in options]


def _one_per_channel(targets: list[Target]) -> list[Target]:
    """A recurring post's row per channel: its next planned occurrence, else its latest."""

    def rank(t: Target) -> tuple[int, float]:
        due = (t.due_at or _NEVER).timestamp()
        return (1, -due) if t.status not in SETTLED else (0, due)

    chosen: dict[UUID, Target] = {}
    for target in targets:
        best = chosen.get(target.channel_id)
        if best is None or rank(target) > rank(best):
            chosen[target.channel_id] = target
    return list(chosen.values())


def csv_export(
    posts: list[Post], targets: dict[UUID, list[Target]], *, next_cursor: str | None
) -> Response:
    """The posts as CSV rows (see the module's docstring); the next page's cursor rides in
    the `X-Next-Cursor` header."""
    rows = [(post, target) for post in posts for target in _one_per_channel(targets[post.id])]
    options = sorted(
        {name for _, t in rows for name in (t.options or {}) if name in _SCALAR_OPTIONS}
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*EXPORT_COLUMNS, *(OPTION_PREFIX + name for name in options)])
    for post, target in rows:
        writer.writerow(_export_row(post, target, options))
    headers = {"content-disposition": 'attachment; filename="posts.csv"'}
    if next_cursor is not None:
        headers["x-next-cursor"] = next_cursor
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


async def csv_bytes(request: Request, *, limit: int) -> bytes:
    """The uploaded CSV, refused (413) as soon as it is known to be above `limit` bytes:
    before anything is parsed, and without reading more than the limit."""
    too_large = PayloadTooLarge(f"A CSV import may be at most {limit} bytes.", field="file")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ValidationFailed("Send the CSV as the multipart field 'file'.", field="file")
            if upload.size is not None and upload.size > limit:
                raise too_large
            return await upload.read()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise too_large
    return bytes(data)
