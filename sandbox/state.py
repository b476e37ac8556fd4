"""In-memory world shared by every fake network: accounts, tokens, posts, media, inbox items."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from sandbox.settings import SandboxSettings

NETWORKS = (
    "facebook",
    "instagram",
    "threads",
    "x",
    "linkedin",
    "tiktok",
    "youtube",
    "mastodon",
    "bluesky",
)
PUSHING = frozenset({"facebook", "instagram", "threads", "x", "linkedin", "tiktok"})


def derive(seed: str, *parts: str, length: int = 32, alphabet: str = "hex") -> str:
    digest = hmac.new(seed.encode(), ":".join(parts).encode(), hashlib.sha256).digest()
    if alphabet == "digits":
        return str(int.from_bytes(digest, "big"))[:length]
    if alphabet == "b64":
        return base64.urlsafe_b64encode(digest * 2).decode().rstrip("=")[:length]
    return (digest * 2).hex()[:length]


@dataclass(slots=True)
class App:
    client_id: str
    client_secret: str
    verify_token: str


@dataclass(slots=True)
class Account:
    network: str
    id: str
    name: str
    username: str
    created_at: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Token:
    value: str
    network: str
    account_id: str
    kind: str  # "access" | "refresh"
    expires_at: float | None
    scope: str = ""
    client_id: str = ""
    revoked: bool = False
    # A person's token (Facebook Login), as opposed to one of the Page they manage: it reads
    # the person and their Pages (`/me/accounts`), and publishes nothing.
    person: bool = False

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass(slots=True)
class Subscription:
    network: str
    account_id: str
    topics: list[str]
    callback: str | None
    expires_at: float | None
    created_at: float = field(default_factory=time.time)
    secret: str | None = None

    def live(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(slots=True)
class Media:
    id: str
    network: str
    account_id: str
    kind: str  # image | video | gif
    mime: str
    size: int
    digest: str
    url: str | None = None
    polls: int = 0
    status: str = "pending"
    alt: str = ""
    chunks: dict[int, bytes] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Post:
    network: str
    id: str
    # The sandbox account that published it; None for items written by the audience.
    account_id: str | None
    text: str
    created_at: float
    kind: str = "post"  # post | comment | dm
    media: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    reply_to: str | None = None
    author_id: str = ""
    author_name: str = ""
    author_username: str = ""
    visibility: str = "public"
    extra: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    deleted: bool = False
    # Hidden by the account that owns the post it answers (a moderated comment).
    hidden: bool = False

    @property
    def content_key(self) -> tuple[Any, ...]:
        # Uploaded media are compared by their bytes so a retry that re-uploads the same file
        # still counts as the same content.
        return (
            self.text.strip(),
            self.reply_to,
            tuple(m.get("digest") or m.get("url") or "" for m in self.media),
        )

    def count(self, name: str) -> int:
        return int(self.metrics.get(name, 0.0))

    @property
    def edited_at(self) -> float | None:
        value = self.extra.get("edited_at")
        return float(value) if value is not None else None

    def edit(self, text: str) -> None:
        """Its author changed the text; networks that allow this show when."""
        self.text = text
        self.extra["edited_at"] = time.time()


class State:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.apps = {
            n: App(
                client_id=derive(settings.seed, n, "client_id", length=24, alphabet="b64"),
                client_secret=derive(settings.seed, n, "client_secret", length=48, alphabet="b64"),
                verify_token=derive(settings.seed, n, "verify_token", length=24),
            )
            for n in NETWORKS
        }
        self.reset()

    def reset(self) -> None:
        self.accounts: dict[str, dict[str, Account]] = {n: {} for n in NETWORKS}
        self.tokens: dict[str, Token] = {}
        self.posts: dict[str, dict[str, Post]] = {n: {} for n in NETWORKS}
        self.by_account: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.media: dict[str, dict[str, Media]] = {n: {} for n in NETWORKS}
        # Network-specific scratch space (containers, upload sessions, idempotency keys, …).
        self.kv: dict[str, dict[str, Any]] = {n: {} for n in NETWORKS}
        self.notifications: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self.webhook_urls: dict[str, str] = {}
        # network → account id → its webhook subscription (sandbox.subscriptions).
        self.subscriptions: dict[str, dict[str, Subscription]] = {n: {} for n in NETWORKS}
        self.oauth_codes: dict[str, dict[str, Any]] = {}
        self.fans: dict[tuple[str, str], Account] = {}
        self.fan_ids: dict[tuple[str, str], Account] = {}
        self.engagement_hours = 0
        self._ids = itertools.count(1)

    # ids -----------------------------------------------------------------------------------

    def seq(self) -> int:
        return next(self._ids)

    def snowflake(self) -> str:
        # X-like ids: time-ordered and numeric, so "newest first" sorts by id as it does there.
        ms = int(time.time() * 1000) - 1288834974657
        return str((ms << 22) | (self.seq() & 0x3FFFFF))

    def numeric_id(self, prefix: str = "1") -> str:
        return f"{prefix}{int(time.time()):010d}{self.seq():06d}"

    # accounts ------------------------------------------------------------------------------

    def add_account(self, account: Account) -> Account:
        self.accounts[account.network][account.id] = account
        return account

    def account(self, network: str, account_id: str) -> Account | None:
        return self.accounts[network].get(account_id)

    def find_account(self, network: str, ref: str) -> Account | None:
        accounts = self.accounts[network]
        if ref in accounts:
            return accounts[ref]
        for acc in accounts.values():
            if ref in (acc.username, acc.extra.get("urn"), acc.extra.get("did"), acc.name):
                return acc
        return None

    def fan(self, network: str, name: str) -> Account:
        """An audience member: a stable identity per display name."""
        key = (network, name)
        acc = self.fans.get(key)
        if acc is None:
            handle = "".join(c for c in name.lower() if c.isalnum() or c == "_")[:15] or "fan"
            acc = Account(
                network=network,
                id=derive(self.settings.seed, network, "fan", name, length=15, alphabet="digits"),
                name=name,
                username=handle,
                created_at=time.time(),
            )
            self.fans[key] = acc
            self.fan_ids[(network, acc.id)] = acc
        return acc

    # tokens --------------------------------------------------------------------------------

    def issue(
        self,
        network: str,
        account_id: str,
        *,
        kind: str = "access",
        ttl: float | None,
        prefix: str = "",
        value: str | None = None,
        scope: str = "",
        client_id: str = "",
    ) -> Token:
        token = Token(
            value=value or prefix + secrets.token_urlsafe(32),
            network=network,
            account_id=account_id,
            kind=kind,
            expires_at=None if ttl is None else time.time() + ttl,
            scope=scope,
            client_id=client_id,
        )
        self.tokens[token.value] = token
        return token

    def expire_tokens(self, network: str | None) -> int:
        now = time.time()
        count = 0
        for token in self.tokens.values():
            if token.kind == "access" and (network is None or token.network == network):
                token.expires_at = now - 1
                count += 1
        return count

    # posts ---------------------------------------------------------------------------------

    def add_post(self, post: Post) -> Post:
        self.posts[post.network][post.id] = post
        if post.account_id is not None:
            self.by_account[(post.network, post.account_id)].append(post.id)
        return post

    def account_posts(self, network: str, account_id: str) -> list[Post]:
        posts = self.posts[network]
        return [posts[i] for i in self.by_account.get((network, account_id), ()) if i in posts]

    def last_post(self, network: str, account_id: str) -> Post | None:
        ids = self.by_account.get((network, account_id))
        if not ids:
            return None
        posts = self.posts[network]
        for post_id in reversed(ids):
            post = posts.get(post_id)
            if post is not None and not post.deleted and post.kind == "post":
                return post
        return None

    def is_repeat(self, network: str, account_id: str, text: str, reply_to: str | None) -> bool:
        """The real networks' duplicate check: same text as this account's previous post."""
        last = self.last_post(network, account_id)
        return (
            last is not None
            and bool(text.strip())
            and last.text.strip() == text.strip()
            and last.reply_to == reply_to
        )

    def duplicates(self, network: str, account_id: str) -> int:
        posts = [p for p in self.account_posts(network, account_id) if p.kind == "post"]
        return len(posts) - len({p.content_key for p in posts})

    # audience ------------------------------------------------------------------------------

    def notify(self, network: str, account_id: str, item: dict[str, Any]) -> dict[str, Any]:
        item.setdefault("seq", self.seq())
        self.notifications[(network, account_id)].append(item)
        return item


def jwt(secret: str, claims: dict[str, Any]) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    head = b64(orjson.dumps({"typ": "at+jwt", "alg": "HS256"}))
    body = b64(orjson.dumps(claims))
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


@dataclass
class Ga4:
    """Google Analytics 4 properties and the Measurement Protocol hits they received."""

    # measurement id → the API secrets of its data stream
    properties: dict[str, set[str]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
