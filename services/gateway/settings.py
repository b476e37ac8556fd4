from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.outbound import OutboundPolicy
from shared.sealing import SealingSettings
from shared.settings import DEVELOPMENT_ENVIRONMENTS, is_placeholder


class GatewaySettings(SealingSettings):
    """Client webhook signing secrets are sealed with `encryption_keys` / `active_key_id`
    (GATEWAY_ENCRYPTION_KEYS or HERALD_ENCRYPTION_KEYS; shared/sealing.py)."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    service_name: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8000

    # The platform operator's token: the only way to create a workspace. `HERALD_ADMIN_TOKEN`
    # works too (the platform-wide fallback of ServiceSettings).
    admin_token: str = "dev-admin-token"

    # The operators' port: /healthz, /readyz and /metrics without a token, for probes and
    # Prometheus; never published. 0: none (on the public port, /readyz and /metrics then
    # take the admin token). On the public port's interface unless `ops_host` says otherwise.
    ops_port: int = 0
    ops_host: str = ""

    # The largest body the gateway lets through; each service has its own, smaller limit.
    request_max_bytes: int = 10 * 1024 * 1024

    # Where the owning services answer.
    scheduler_url: str = "http://127.0.0.1:8001"
    publisher_url: str = "http://127.0.0.1:8002"
    inbox_url: str = "http://127.0.0.1:8003"
    metrics_url: str = "http://127.0.0.1:8004"

    # Visible start of every API key, so a leaked key is recognisable in logs and by scanners.
    api_key_prefix: str = "hk_live_"
    # How long a replica trusts an authenticated key without asking the database again.
    # Revocations and role changes reach every replica at once through NOTIFY; while a
    # replica is not listening, it does not use its cache at all.
    key_cache_seconds: float = 30.0
    key_cache_size: int = 10_000
    # Requests with an API key that is not valid, per client address and window, before the
    # address is refused (429) without looking its keys up; per replica. 0: no limit.
    auth_failures_per_address: int = 30
    auth_failure_window_seconds: float = 60.0

    # Upstream calls: one pooled client for the whole process.
    upstream_connect_timeout: float = 5.0
    upstream_read_timeout: float = 60.0
    upstream_max_connections: int = 500
    # Split over this many pools, used in turn (a shorter scan of idle connections per call).
    upstream_pools: int = 4
    # Idle pooled connections are dropped before the services' servers close them (uvicorn:
    # after 5 s), so a request rarely meets a connection closing under it.
    upstream_keepalive_seconds: float = 2.0

    # The merged OpenAPI document is rebuilt at most this often (and on `?refresh=true`).
    openapi_cache_seconds: float = 300.0
    openapi_fetch_timeout: float = 5.0

    # Idempotency-Key: how long a key is remembered, how long a request may stay in flight
    # before another may take its key over (its process died), and the largest body kept.
    idempotency_ttl_hours: float = 24.0
    idempotency_lock_seconds: float = 120.0
    idempotency_max_body: int = 10 * 1024 * 1024

    # Requests per window, per API key and per workspace (a workspace may have its own, set
    # with PATCH /v1/workspaces/{id}).
    rate_limit_per_key: int = 600
    rate_limit_per_workspace: int = 1200
    rate_limit_window_seconds: int = 60

    # How often expired idempotency records and old rate-limit windows are deleted.
    janitor_interval_seconds: float = 60.0

    # Client webhooks. After a failed attempt, the next waits the next entry of this schedule
    # (5 s, 5 min, 30 min, 2 h, 5 h, then 10 h twelve times: 18 attempts over about 5.3 days).
    webhook_retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: [5, 300, 1800, 7200, 18000] + [36000] * 12
    )
    # A subscription whose every attempt failed for this long (no success in between) is
    # disabled, with the reason; PATCH {"enabled": true} turns it back on.
    webhook_disable_after_hours: float = 120.0
    # How long a rotated-out secret keeps signing next to the new one (default of the request).
    webhook_secret_overlap_hours: float = 24.0
    # The whole of one send (connect, request, answer) ends within this; shorter than the
    # lease, so a slow endpoint cannot outlive the claim and be sent to twice.
    webhook_timeout_seconds: float = 15.0
    # A claimed delivery is left alone by other replicas for this long. A pass sends nothing
    # that could not finish inside it: what the pass could not start in time is given back.
    webhook_lease_seconds: float = 60.0
    # Of an endpoint's answer, at most this much is read, and a short plain-text excerpt of
    # it kept in the delivery log.
    webhook_answer_max_bytes: int = 16 * 1024
    webhook_answer_excerpt_chars: int = 200
    webhook_batch: int = 100
    webhook_concurrency: int = 20
    webhook_poll_seconds: float = 5.0
    # Plain-http endpoint URLs. None: allowed only in development and test (and never
    # outside them: a signed payload and its answer would cross the network readable).
    webhook_allow_http: bool | None = None
    # Deliveries that are over (succeeded or failed) and attempts older than this are deleted
    # (shared/retention.py); the deliveries API shows nothing older.
    webhook_delivery_retention_days: float = 30.0

    # Audit entries older than this are deleted (shared/retention.py); GET /v1/audit shows
    # nothing older.
    audit_retention_days: float = 365.0

    # Members: how long an invitation token stays valid.
    invitation_ttl_days: float = 7.0

    @model_validator(mode="after")
    def _admin_token_is_real(self) -> "GatewaySettings":
        if self.environment not in DEVELOPMENT_ENVIRONMENTS and is_placeholder(self.admin_token):
            raise ValueError(
                "gateway: admin_token (GATEWAY_ADMIN_TOKEN or HERALD_ADMIN_TOKEN) must be set "
                f"to a real secret outside development (environment={self.environment!r})"
            )
        return self

    @model_validator(mode="after")
    def _webhooks_are_safe(self) -> "GatewaySettings":
        if self.webhook_allow_http and self.environment not in {"development", "test"}:
            raise ValueError(
                "gateway: webhook_allow_http is for development only "
                f"(environment={self.environment!r}); client webhooks go over https"
            )
        if self.webhook_timeout_seconds >= self.webhook_lease_seconds:
            raise ValueError("webhook_timeout_seconds must be shorter than webhook_lease_seconds")
        return self

    def webhook_outbound(self) -> OutboundPolicy:
        """Where client webhooks may go: public addresses (plus the development allow-list)."""
        return OutboundPolicy.for_environment(
            self.environment,
            allow=self.outbound_allow,
            allow_http=self.webhook_http_allowed,
            max_bytes=self.webhook_answer_max_bytes,
            deadline_seconds=self.webhook_timeout_seconds,
        )

    def upstreams(self) -> dict[str, str]:
        return {
            "scheduler": self.scheduler_url.rstrip("/"),
            "publisher": self.publisher_url.rstrip("/"),
            "inbox": self.inbox_url.rstrip("/"),
            "metrics": self.metrics_url.rstrip("/"),
        }

    @property
    def webhook_http_allowed(self) -> bool:
        if self.webhook_allow_http is None:
            return self.environment in {"development", "test"}
        return self.webhook_allow_http
