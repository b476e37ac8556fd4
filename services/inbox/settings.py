from typing import ClassVar

from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NetworkApp(BaseModel):
    """The app credentials a network signs its webhooks with (from its developer console)."""

    client_secret: str
    verify_token: str = ""


class InboxSettings(ServiceSettings):
    """Settings of the inbox (env prefix INBOX_).

    To scale webhook ingest apart from processing, run receivers-only replicas with
    INBOX_RUN_WORKERS=false behind the webhook route: they verify, store and answer, and
    wake the replicas that run the workers (receipt processing, polling, crisis detection,
    bus consumers) with a NOTIFY.
    """

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
    # Stored receipts wake the worker at most this often (one NOTIFY per burst).
    receipt_wake_interval: float = 0.02
    # The receivers' writes: concurrent webhooks are committed together, up to
    # `intake_max_batch` per statement, on `intake_connections` connections of their own.
    intake_connections: int = 2
    intake_max_batch: int = 500
    # Webhooks (and their bytes) waiting for a writer at most; beyond, receivers answer 503
    # and the network delivers again later.
    intake_max_pending: int = 10_000
    intake_max_pending_bytes: int = 64 * 1024 * 1024
    # Signed events are verified and stored in front of the framework's routing (see
    # fastpath.py); off, every delivery goes through the regular routes.
    hooks_fast_path: bool = True
    # A receipt whose processing fails is tried again after `receipt_retry_seconds`, doubling
    # with each further failure up to `receipt_retry_max_seconds`, and given up (status
    # `failed`, kept with its error) after `receipt_max_attempts` attempts.
    receipt_max_attempts: int = 5
    receipt_retry_seconds: float = 5.0
    receipt_retry_max_seconds: float = 900.0
    # Receipts are deleted this long after they arrived (shared/retention.py), unless still
    # pending; the messages made of them stay.
    receipt_retention_days: float = 30.0
    # Crisis detection runs every `crisis_tick_seconds`, and soon after new messages arrive
    # (at most once per `crisis_min_interval_seconds`). Thresholds are per workspace
    # (`PUT /v1/alerts/settings`).
    crisis_tick_seconds: float = 15.0
    # Conversations past their response-time target are looked for every `sla_tick_seconds`,
    # `sla_batch` at a time (services/inbox/sla.py).
    sla_tick_seconds: float = 30.0
    sla_batch: int = 200
    crisis_min_interval_seconds: float = 1.0
    # TikTok signs a timestamp with every event; one further from now than this is refused
    # as a replay (or a clock gone wrong).
    tiktok_signature_tolerance_seconds: float = 300.0
    # Polling (Mastodon, Bluesky, YouTube comments): a channel with a post younger than
    # `poll_fresh_post_hours` is polled every `poll_fresh_interval_seconds`, others every
    # `poll_stale_interval_seconds`. Posts up to `poll_post_window_days` old are named in each
    # request (YouTube comments are fetched per video). The loop looks every
    # `poll_tick_seconds` for due channels, `poll_batch` at a time.
    poll_fresh_interval_seconds: float = 60.0
    poll_stale_interval_seconds: float = 900.0
    poll_fresh_post_hours: float = 24.0
    poll_post_window_days: float = 7.0
    poll_tick_seconds: float = 5.0
    poll_batch: int = 200
    # Contests: the automatic draw follows the end of the entry window by
    # `contest_draw_delay_seconds` (webhooks of comments written in time may arrive a little
    # late). The due loop sleeps until the next contest is due, at most `contest_tick_seconds`
    # (a new contest wakes it); a failed automatic draw is tried again after
    # `contest_retry_seconds`.
    contest_draw_delay_seconds: float = 60.0
    contest_tick_seconds: float = 30.0
    contest_retry_seconds: float = 60.0
    # The languages messages are told apart in (ISO 639-1): the built-in scorer's (en he is
    # es fr de pt ar) and a few it does not cover, so a message in one of those is marked
    # with its language and no sentiment instead of being read as the nearest covered one.
    # Each language's detection model is loaded on first use (~25 MB each, high accuracy).
    languages: list[str] = ["en", "he", "is", "es", "fr", "de", "pt", "ar", "it", "nl", "ru"]
    # Below this confidence (or under three letters) a message's language is null.
    language_min_confidence: float = 0.6
    # Low-accuracy detection loads ~15 times less and is faster, but misreads short comments.
    language_low_accuracy: bool = False
    # An operator's own sentiment model (services/inbox/scorers.py): an ONNX model directory,
    # or an OpenAI-compatible endpoint (`…/v1`, asked at `/chat/completions`). It scores the
    # languages listed (all when empty); the built-in scorer stands in while it is down.
    sentiment_onnx_dir: str = ""
    sentiment_http_url: str = ""
    sentiment_http_model: str = ""
    sentiment_http_api_key: str = ""
    sentiment_model_languages: list[str] = []
    sentiment_model_timeout_seconds: float = 5.0
    sentiment_model_retry_seconds: float = 60.0
    sentiment_model_batch: int = 32
