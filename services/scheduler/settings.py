from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.scheduler.workspaces import Defaults
from shared.settings import ServiceSettings


class SchedulerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULER_", extra="ignore")

    service_name: ClassVar[str] = "scheduler"
    default_port: ClassVar[int] = 8001

    # Asked once for a channel the read model has not heard of yet (a post created right after
    # the channel was connected, before `channel.connected` arrived).
    publisher_url: str = "http://127.0.0.1:8002"
    channel_lookup_timeout: float = 5.0
    # Due targets claimed per transaction by one dispatcher.
    dispatch_batch: int = 500
    # The longest a dispatcher sleeps without looking. Producers NOTIFY only for targets due
    # within this horizon, since anything later is found by the next look anyway.
    dispatch_max_sleep: float = 30.0
    # The largest CSV `POST /v1/posts/import` takes, refused before it is parsed.
    import_max_bytes: int = 1024 * 1024
    # Occurrences of a recurring post that exist as rows ahead of time (the calendar shows them).
    recurrence_horizon_days: int = 60
    # Public base URL of the API (the gateway), for the iCalendar feed URL; empty: a path only.
    public_url: str = ""
    # Defaults of a workspace that has not changed its scheduler settings.
    default_missed_after_seconds: int = 3600
    default_approval_required: bool = False
    # Requests one external review link may make per minute (it needs no API key).
    review_link_requests_per_minute: int = 30
    # The longest an external review link may live.
    review_link_max_hours: int = 30 * 24

    @property
    def workspace_defaults(self) -> Defaults:
        return Defaults(
            approval_required=self.default_approval_required,
            missed_after_seconds=self.default_missed_after_seconds,
        )
