"""Settings every service shares.

Each service subclasses `ServiceSettings` with its own env prefix (``SCHEDULER_`` …). Values
that are usually the same for the whole platform (broker URL, internal token) may also be given
once with the ``HERALD_`` prefix; the service's own prefix wins.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# Secrets everyone can read (in this repository's defaults, docker-compose.yml, the k8s
# templates, the tests): refused outside development and test, whatever the setting.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "change-me",
        "changeme",
        "change_me",
        "secret",
        "dev-internal-token",
        "dev-admin-token",
        "compose-internal-token",
        "compose-admin-token",
        "test-internal-token",
        "test-admin-token",
    }
)
DEVELOPMENT_ENVIRONMENTS = frozenset({"development", "test"})


def is_placeholder(secret: str) -> bool:
    return secret.strip().lower() in PLACEHOLDER_SECRETS


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000

    environment: str = "development"
    host: str = "127.0.0.1"
    port: int = 0
    database_url: str = "postgresql+asyncpg://postgres@localhost:5432/herald"
    database_pool_size: int = 10
    amqp_url: str = "amqp://guest:guest@localhost:5672/"
    exchange: str = "herald"
    # Prepended to the exchange and every queue name, so test runs and benchmarks on one broker
    # never see each other's messages.
    bus_prefix: str = ""
    prefetch: int = 64
    # Messages handled at once by all of a process's consumers together; 0 means the database
    # pool size. Each handler holds a connection for its transaction, so more handlers than
    # connections would only queue for the pool and time out there after a backlog builds up.
    handler_concurrency: int = 0
    # Delivered messages a consumer handles in one transaction (one idempotency insert, one
    # commit, their acks together); at most `prefetch` are delivered at once anyway.
    consumer_batch: int = 64
    # Batches one consumer runs at once; what arrives meanwhile waits for the next batch.
    consumer_lanes: int = 2
    delivery_limit: int = 10
    # While the database is unreachable consumers hold their messages (not counted against the
    # delivery limit) and check it again after this delay, doubled each time up to the maximum.
    consumer_backoff_initial_seconds: float = 0.5
    consumer_backoff_max_seconds: float = 30.0
    # The token this process sends on internal calls, and accepts.
    internal_token: str = "dev-internal-token"
    # Comma-separated tokens accepted besides `internal_token` while it is rotated
    # (docs/operations.md): the next token before processes switch to it, the previous one after.
    accepted_internal_tokens: str = ""
    log_level: str = "INFO"
    # The largest request body this service reads (413 above it, chunked bodies included).
    request_max_bytes: int = 1024 * 1024
    # Any statement running longer than this is cancelled by PostgreSQL (0: no limit).
    statement_timeout_ms: int = 60_000
    # Background loops (relay, dispatcher, consumers) can be switched off for API-only tests.
    run_workers: bool = True
    outbox_batch: int = 500
    # Retention (shared/retention.py): every `retention_interval_seconds` rows older than their
    # table's retention are deleted, `retention_batch` per transaction. `processed_messages`
    # (the consumers' idempotency record) must outlive any redelivery of a handled message.
    retention_interval_seconds: float = 3600.0
    retention_batch: int = 5000
    processed_messages_retention_days: float = 14.0
    # `host:port` pairs (comma-separated) that outbound fetches of client-given URLs may reach
    # although they are not public (the sandbox, a test's receiver): development and test
    # only (HERALD_OUTBOUND_ALLOW, shared/outbound.py).
    outbound_allow: str = ""

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> ServiceSettings:
        if self.port == 0:
            self.port = self.default_port
        if self.environment in DEVELOPMENT_ENVIRONMENTS:
            return self
        if any(is_placeholder(token) for token in (self.internal_token, *self.internal_tokens)):
            raise ValueError(
                f"{self.service_name}: internal_token must be set to a real secret "
                f"outside development (environment={self.environment!r})"
            )
        for name, url in (("database_url", self.database_url), ("amqp_url", self.amqp_url)):
            password = urlsplit(url).password
            if password is not None and is_placeholder(password):
                raise ValueError(
                    f"{self.service_name}: the password in {name} is a placeholder; set the "
                    f"real one outside development (environment={self.environment!r})"
                )
        if self.environment not in DEVELOPMENT_ENVIRONMENTS and self.outbound_allow.strip():
            raise ValueError(
                f"{self.service_name}: outbound_allow lets fetches reach private addresses; "
                f"it is for development only (environment={self.environment!r})"
            )
        return self

    @property
    def internal_tokens(self) -> tuple[str, ...]:
        """Every internal token this process accepts, the one it sends first."""
        extra = (t.strip() for t in self.accepted_internal_tokens.split(","))
        return tuple(dict.fromkeys([self.internal_token, *(t for t in extra if t)]))

    @property
    def exchange_name(self) -> str:
        return f"{self.bus_prefix}{self.exchange}"

    def queue_name(self, purpose: str) -> str:
        return f"{self.bus_prefix}{self.service_name}.{purpose}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        platform_env = EnvSettingsSource(settings_cls, env_prefix="HERALD_")
        return (init_settings, env_settings, platform_env, dotenv_settings, file_secret_settings)
