"""Request and response models of the contests API (`/v1/contests`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

Handle = Annotated[str, Field(min_length=1, max_length=300)]


class ContestRules(BaseModel):
    """What an entry must be. Unknown rules are refused, never ignored."""

    model_config = ConfigDict(extra="forbid")

    keyword: Annotated[str | None, Field(min_length=1, max_length=100)] = Field(
        default=None,
        description="A word or #hashtag the comment must contain (case ignored, whole word).",
    )
    mentions: Annotated[int, Field(ge=0, le=20)] = Field(
        default=0,
        description="At least this many other accounts @-mentioned (not the author, not staff).",
    )
    min_account_age_days: Annotated[int | None, Field(ge=1, le=3650)] = Field(
        default=None,
        description="The author's account must be at least this old. Only on networks that "
        "say when an account was created (X); refused for a contest on any other network.",
    )
    one_entry_per_author: bool = Field(
        default=True,
        description="An author counts once across all the contest's posts and networks: "
        "their earliest qualifying comment.",
    )
    exclude_staff: bool = Field(
        default=True,
        description="Leave out the workspace's own channel accounts and the `staff` list.",
    )
    staff: Annotated[list[Handle], Field(max_length=1000)] = Field(
        default_factory=list,
        description="The team's personal accounts: an account id, a handle or a display name, "
        "optionally prefixed with the network (`instagram:anna.team`).",
    )
    blocked: Annotated[list[Handle], Field(max_length=1000)] = Field(
        default_factory=list, description="Authors who may not enter, written like `staff`."
    )
    exclude_winners_of: Annotated[list[UUID], Field(max_length=50)] = Field(
        default_factory=list,
        description="Earlier contests (of the same giveaway series) whose winners may not win "
        "again.",
    )


class WinnerReply(BaseModel):
    """How winners are told, with a saved reply: a public reply to the winning comment, or a
    direct message where the network lets a brand write to a commenter."""

    model_config = ConfigDict(extra="forbid")

    saved_reply_id: UUID
    via: Literal["comment", "dm"] = "comment"


class ContestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=200)] = ""
    post_ids: Annotated[list[UUID], Field(min_length=1, max_length=20)]
    starts_at: datetime = Field(
        description="Local time in the workspace's time zone, or with an explicit offset."
    )
    ends_at: datetime
    winners: Annotated[int, Field(ge=1, le=100)]
    reserves: Annotated[int, Field(ge=0, le=100)] = 0
    rules: ContestRules = Field(default_factory=ContestRules)
    winner_reply: WinnerReply | None = None
    announce: bool = Field(
        default=False,
        description="Post the commitment as a comment under each of the contest's posts.",
    )


class Pick(BaseModel):
    place: int
    network: str
    comment_id: str
    author_id: str
    author: str | None
    message_id: UUID


class ContestOut(BaseModel):
    id: UUID
    name: str
    post_ids: list[UUID]
    starts_at: datetime
    ends_at: datetime
    timezone: str
    draw_at: datetime
    winners_count: int = Field(description="How many winners are drawn.")
    reserves_count: int
    rules: ContestRules
    winner_reply: WinnerReply | None
    status: Literal["open", "closed", "drawn"]
    commitment: str = Field(description="Hex SHA-256 of the secret seed, public from the start.")
    created_by: str
    created_at: datetime
    closed_at: datetime | None = None
    drawn_at: datetime | None = None
    drawn_by: str | None = None
    # After the draw only.
    seed: str | None = None
    entries_digest: str | None = None
    qualifying: int | None = None
    winners: list[Pick] | None = None
    reserves: list[Pick] | None = None


class ContestPage(BaseModel):
    items: list[ContestOut]
    next_cursor: str | None = None


class EntryOut(BaseModel):
    message_id: UUID
    post_id: UUID | None
    network: str
    comment_id: str
    author_id: str
    author: str | None
    text: str
    sent_at: datetime
    qualifies: bool
    reasons: list[str]


class EntryPage(BaseModel):
    contest_id: UUID
    # `live` before the draw (recomputed on each call); `drawn` after: the list drawn from.
    state: Literal["live", "drawn"]
    total: int
    qualifying: int
    items: list[EntryOut]


class ActivityOut(BaseModel):
    actor: str
    action: str
    detail: dict[str, object]
    at: datetime
