import base64
from typing import ClassVar

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

# Public, so refused outside development (as the publisher's development key is).
DEVELOPMENT_KEY_ID = "dev-1"
DEVELOPMENT_KEY = base64.b64encode(b"herald-metrics-dev-key-32-bytes!").decode()
DEVELOPMENT_LINK_SECRET = "herald-development-report-links"


class MetricsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore")

    service_name: ClassVar[str] = "metrics"
    default_port: ClassVar[int] = 8004

    # Where short links point readers (the gateway's public address).
    public_url: str = "http://127.0.0.1:8000"

    # Collection work queue: how many due collections one claim takes, how long the loop
    # sleeps when nothing is due (a NOTIFY wakes it earlier), how long a `metrics.collect`
    # may stay unanswered before it is sent again, and how often before it is given up.
    collect_batch: int = 500
    collect_poll_seconds: float = 5.0
    collect_timeout_seconds: float = 900.0
    collect_max_attempts: int = 3
    # Account numbers (followers) are fetched once per this many hours per channel.
    account_collect_hours: float = 24.0

    # Reports refuse ranges longer than this.
    max_report_days: int = 400

    # Best times: how many posts' worth of the channel mean a cell starts with (the shrinkage
    # prior), how many slots are recommended, and how often dirty channels are recomputed.
    best_times_prior_posts: float = 3.0
    best_times_slots: int = 3
    best_times_interval_seconds: float = 300.0

    # Reports: how often the report loop looks for queued reports and due schedules (a NOTIFY
    # wakes it earlier), how long a report being generated is one replica's before another
    # may take it over, how many tries it gets, and how long download links stay valid.
    report_poll_seconds: float = 5.0
    report_timeout_seconds: float = 600.0
    report_max_attempts: int = 3
    report_link_hours: float = 72.0
    # Signs report download links (METRICS_REPORT_LINK_SECRET).
    report_link_secret: str = DEVELOPMENT_LINK_SECRET

    # Google Analytics 4 Measurement Protocol: where hits go (the sandbox in development:
    # `{sandbox}/_sandbox/ga4`), how many clicks one look sends, how often it looks.
    ga4_url: str = "https://www.google-analytics.com"
    ga4_batch: int = 50
    ga4_poll_seconds: float = 2.0
    ga4_max_attempts: int = 10
    ga4_timeout_seconds: float = 10.0
    # key id → base64 of a 32-byte AES key (METRICS_ENCRYPTION_KEYS, JSON): seals the GA4 API
    # secrets. New secrets use `active_key_id`; older ids stay listed until re-sealed.
    encryption_keys: dict[str, str] = {DEVELOPMENT_KEY_ID: DEVELOPMENT_KEY}
    active_key_id: str = DEVELOPMENT_KEY_ID

    @model_validator(mode="after")
    def _secrets(self) -> "MetricsSettings":
        if self.active_key_id not in self.encryption_keys:
            raise ValueError(f"active_key_id {self.active_key_id!r} is not among encryption_keys")
        for key_id, value in self.encryption_keys.items():
            if len(base64.b64decode(value)) != 32:
                raise ValueError(f"encryption key {key_id!r} must be 32 bytes")
        if self.environment not in {"development", "test"} and (
            self.encryption_keys.get(self.active_key_id) == DEVELOPMENT_KEY
            or self.report_link_secret == DEVELOPMENT_LINK_SECRET
        ):
            raise ValueError(
                "metrics: encryption_keys and report_link_secret must be real secrets outside "
                f"development (environment={self.environment!r})"
            )
        return self
