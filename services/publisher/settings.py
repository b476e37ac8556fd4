from typing import ClassVar, Literal

from pydantic import BaseModel, model_validator
from pydantic_settings import SettingsConfigDict

from shared.sealing import DEVELOPMENT_KEY, DEVELOPMENT_KEY_ID, SealingSettings

__all__ = ["DEVELOPMENT_KEY", "DEVELOPMENT_KEY_ID", "PublisherSettings"]


class NetworkApp(BaseModel):
    """The app registered with a network (OAuth client), as the operator configured it."""

    client_id: str
    client_secret: str = ""


class BudgetRule(BaseModel):
    """A network's cap: at most `limit` (each call costing `cost`) per rolling window."""

    name: str
    limit: int
    window_seconds: float
    # Which calls spend from it: "post" (posts and first comments), "reply", "read" (polling,
    # insights, lookups).
    actions: list[str]
    scope: Literal["token", "app"] = "token"
    cost: int = 1


class PublisherSettings(SealingSettings):
    model_config = SettingsConfigDict(env_prefix="PUBLISHER_", extra="ignore")

    service_name: ClassVar[str] = "publisher"
    default_port: ClassVar[int] = 8002

    # When set, every adapter talks to `{sandbox_url}/{network}` instead of the real host.
    sandbox_url: str | None = None
    # network → {"client_id", "client_secret"}, given as JSON (PUBLISHER_NETWORK_APPS).
    network_apps: dict[str, NetworkApp] = {}
    # Channel credentials are sealed with `encryption_keys` / `active_key_id`
    # (PUBLISHER_ENCRYPTION_KEYS, JSON; see shared/sealing.py).

    http_timeout_seconds: float = 30.0
    # A post's media is fetched from the URL its author gave: at most this many bytes, all
    # of it (redirects included) within this many seconds.
    media_max_bytes: int = 512 * 1024 * 1024
    media_fetch_seconds: float = 300.0
    # A Facebook video larger than this is uploaded in chunks (resumable upload) rather than
    # fetched by Facebook from its URL.
    facebook_resumable_above_bytes: int = 1024 * 1024 * 1024
    # Publish jobs one replica claims per look at most, and how many attempts it has in
    # flight at once (it only claims as many as it has free slots). Per replica, this bounds
    # publishing throughput at publish_concurrency / (time of one attempt).
    publish_batch: int = 50
    publish_concurrency: int = 20
    # How long a claimed job is ours unless renewed; the attempt renews it every third of
    # this. Must outlast one network call: a replica that found the lease expired while we
    # were still waiting for the network would look the post up too early, find nothing, and
    # publish it a second time.
    lease_seconds: float = 120.0
    # The lease is extended while an attempt runs; an attempt (every call of a multi-step
    # flow) still running after this long is cut off and treated as an unknown outcome.
    attempt_timeout_seconds: float = 900.0
    poll_seconds: float = 1.0
    max_attempts: int = 8
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 1800.0
    # How far around an attempt's start a lookup searches for a post it may have created.
    reconcile_slack_seconds: float = 120.0
    # Tokens are refreshed when they expire within this margin.
    refresh_margin_seconds: float = 300.0

    # Where the networks push (Herald's public `/hooks` base, e.g. https://herald.example/hooks;
    # each network gets `{base}/{network}`). Unset, channels are not subscribed and say so.
    webhook_callback_url: str | None = None
    # Webhook subscriptions: how often the keeper looks for due ones (it is also woken when a
    # channel connects), how many it takes per look, the longest wait between retries, and
    # the lease asked of YouTube's WebSub hub (renewed a fifth of it before it ends).
    subscription_poll_seconds: float = 30.0
    subscription_batch: int = 20
    subscription_retry_max_seconds: float = 3600.0
    websub_lease_seconds: int = 5 * 24 * 3600
    # The token refresher renews every active channel's token this long before it expires,
    # used or not, and warns (`channel.expiring`) this many days before a channel's access
    # ends for good (a refresh token's own end, or a token that cannot be refreshed).
    refresh_ahead_seconds: float = 3600.0
    refresher_poll_seconds: float = 60.0
    expiring_warn_days: int = 7

    # network → budgets replacing the built-in ones (PUBLISHER_RATE_BUDGETS, JSON).
    rate_budgets: dict[str, list[BudgetRule]] = {}
    # A read (insights, polling) that must wait longer than this for its budget gives the
    # message back to the queue instead of holding it.
    budget_wait_max_seconds: float = 30.0

    @model_validator(mode="after")
    def _timings(self) -> "PublisherSettings":
        if self.lease_seconds <= self.http_timeout_seconds:
            raise ValueError("lease_seconds must be longer than http_timeout_seconds")
        if self.attempt_timeout_seconds < self.media_fetch_seconds:
            raise ValueError("attempt_timeout_seconds must be at least media_fetch_seconds")
        if self.attempt_timeout_seconds < self.http_timeout_seconds:
            raise ValueError("attempt_timeout_seconds must be at least http_timeout_seconds")
        return self

    def base_url(self, network: str, real: str) -> str:
        if self.sandbox_url:
            return f"{self.sandbox_url.rstrip('/')}/{network}"
        return real
