from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


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
