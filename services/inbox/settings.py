from typing import ClassVar

from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NetworkApp(BaseModel):
    """The app credentials a network signs its webhooks with (from its developer console)."""

    client_secret: str
    verify_token: str = ""


class InboxSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INBOX_", extra="ignore")

    service_name: ClassVar[str] = "inbox"
    default_port: ClassVar[int] = 8003

    # Network → app secrets, e.g. INBOX_NETWORK_APPS='{"x": {"client_secret": "…"}}'.
    # A network without an entry has no receiver: its webhooks are refused.
    network_apps: dict[str, NetworkApp] = {}
    # Bodies above this are refused before they are read in full (networks send small events).
    max_body_bytes: int = 1_000_000
    # Receipts claimed per worker iteration, and how long an idle worker sleeps between looks
    # when no NOTIFY wakes it.
    receipt_batch: int = 100
    receipt_idle_poll: float = 2.0
    # A receipt whose processing keeps failing is given up after this many attempts.
    receipt_max_attempts: int = 5
