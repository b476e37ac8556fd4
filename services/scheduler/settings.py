from typing import ClassVar, Literal

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from services.scheduler.workspaces import Defaults
from shared.settings import ServiceSettings

DEVELOPMENT_MEDIA_URL_SECRET = "development-media-url-secret"


class SchedulerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULER_", extra="ignore")

    service_name: ClassVar[str] = "scheduler"
    default_port: ClassVar[int] = 8001

    # Asked once for a channel the read model has not heard of yet (a post created right after
    # the channel was connected, before `channel.connected` arrived).
    publisher_url: str = "http://127.0.0.1:8002"
    channel_lookup_timeout: float = 5.0
    # How long the validate answer waits for the publisher to read the pages it links to.
    link_preview_timeout: float = 3.0
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

    # The media library (services/scheduler/media.py). Bytes live content-addressed under
    # `media_dir`, or in an S3-compatible bucket with `media_store = "s3"`.
    media_store: Literal["disk", "s3"] = "disk"
    media_dir: str = ".run/media"
    media_s3_bucket: str = ""
    media_s3_endpoint_url: str = ""
    media_s3_region: str = "us-east-1"
    media_s3_access_key: str = ""
    media_s3_secret_key: str = ""
    # The largest file `POST /v1/media` takes (uploaded or imported from a URL).
    media_max_bytes: int = 512 * 1024 * 1024
    # How long an imported URL may take to arrive, all of it.
    media_import_seconds: float = 120.0
    # Signs the expiring URLs networks and the publisher fetch media from
    # (SCHEDULER_MEDIA_URL_SECRET), and how long one stays valid: longer than a network's
    # slowest pull of a queued post.
    media_url_secret: str = DEVELOPMENT_MEDIA_URL_SECRET
    media_url_hours: float = 24.0

    @model_validator(mode="after")
    def _media_secret(self) -> "SchedulerSettings":
        if (
            self.environment not in {"development", "test"}
            and self.media_url_secret == DEVELOPMENT_MEDIA_URL_SECRET
        ):
            raise ValueError(
                "scheduler: media_url_secret must be a real secret outside development "
                f"(environment={self.environment!r})"
            )
        if self.media_store == "s3" and not self.media_s3_bucket:
            raise ValueError('scheduler: media_store "s3" needs media_s3_bucket')
        return self

    @property
    def workspace_defaults(self) -> Defaults:
        return Defaults(
            approval_required=self.default_approval_required,
            missed_after_seconds=self.default_missed_after_seconds,
        )
