from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8010
    public_url: str = "http://127.0.0.1:8010"
    # A network's webhooks go to f"{webhook_base_url}/{network}" until a URL is registered.
    webhook_base_url: str = "http://127.0.0.1:8000/hooks"
    # App credentials derive from the seed so a restarted sandbox keeps signing the same way.
    seed: str = "herald-sandbox"
    # Lifetime of short-lived access tokens (X, TikTok, YouTube, Bluesky access JWT).
    token_ttl_seconds: int = 7200
    # Lifetime of the long-lived tokens Meta and LinkedIn hand out (about 60 days).
    long_token_ttl_seconds: int = 60 * 24 * 3600
    # Like the networks, push an account's events only once it is subscribed (Meta's
    # subscribed_apps, X's Account Activity, LinkedIn's event subscriptions, YouTube's hub).
    # Off, every account's events go to the network's webhook URL, subscribed or not.
    require_subscriptions: bool = True
    webhook_timeout_seconds: float = 10.0
    webhook_retries: int = 3
    webhook_backoff_seconds: float = 0.2
    # How long an injected timeout hangs before the sandbox gives up and answers 504.
    fault_hang_seconds: float = 60.0
    # Polls of an Instagram/Threads container or TikTok/X media before it reports finished.
    processing_polls: int = 1
    # YouTube's per-project daily quota in units (an upload costs 1,600); load tests raise it.
    youtube_daily_quota: int = 10_000
    # How much of a resumable Facebook video upload each `transfer` call takes (Facebook
    # names each chunk's offsets itself).
    facebook_chunk_bytes: int = 4 * 1024 * 1024
    log_level: str = "warning"
