from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class MetricsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore")

    service_name: ClassVar[str] = "metrics"
    default_port: ClassVar[int] = 8004

    # Where short links point readers (the gateway's public address).
    public_url: str = "http://127.0.0.1:8000"
