"""Internal token rotation: a service accepts its own token and the ones listed beside it."""

from __future__ import annotations

import httpx
import pytest

from services.metrics.app import create_app
from services.metrics.settings import MetricsSettings
from shared.auth import INTERNAL_TOKEN_HEADER


def settings(token: str, accepted: str = "", **extra: object) -> MetricsSettings:
    values: dict[str, object] = {"environment": "test", "run_workers": False, **extra}
    return MetricsSettings(internal_token=token, accepted_internal_tokens=accepted, **values)


async def status(service: MetricsSettings, token: str | None) -> int:
    app = create_app(service)
    headers = {INTERNAL_TOKEN_HEADER: token} if token is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
        # A path no router has: 404 once past the token check, 401 when refused by it.
        return (await client.get("/v1/no-such-route", headers=headers)).status_code


async def test_current_and_listed_tokens_are_accepted_others_refused():
    service = settings("token-new", "token-old, token-older")
    assert service.internal_tokens == ("token-new", "token-old", "token-older")
    assert await status(service, "token-new") == 404
    assert await status(service, "token-old") == 404
    assert await status(service, "token-older") == 404
    assert await status(service, "token-other") == 401
    assert await status(service, "") == 401
    assert await status(service, None) == 401
    # Without the list only the current token passes.
    assert await status(settings("token-new"), "token-old") == 401


async def test_rolling_rotation_never_refuses_a_call():
    """The three steps of docs/operations.md: during each rollout, processes of the step
    before and the step after run side by side and must accept each other's calls."""
    steps = [
        settings("old"),
        settings("old", "new"),  # 1. accept the next token
        settings("new", "old"),  # 2. send the next token, still accept the previous
        settings("new"),  # 3. drop the previous
    ]
    for before, after in zip(steps, steps[1:], strict=False):
        for caller in (before, after):
            for callee in (before, after):
                assert await status(callee, caller.internal_token) == 404, (
                    caller.internal_tokens,
                    callee.internal_tokens,
                )
    # Skipping step 1 is what would refuse calls: a new sender against an old receiver.
    assert await status(steps[0], steps[2].internal_token) == 401


def test_tokens_from_the_platform_environment(monkeypatch):
    monkeypatch.setenv("HERALD_INTERNAL_TOKEN", "current-secret")
    monkeypatch.setenv("HERALD_ACCEPTED_INTERNAL_TOKENS", "previous-secret,")
    monkeypatch.setenv("METRICS_ENVIRONMENT", "production")
    # Production also wants metrics' own secrets real (report links, sealed GA4 secrets).
    monkeypatch.setenv("METRICS_REPORT_LINK_SECRET", "a-real-link-secret-0123456789")
    real_key = "ZmFrZS1idXQtbm90LXB1YmxpYy1rZXktMzItYnl0ZXM="
    monkeypatch.setenv("METRICS_ENCRYPTION_KEYS", f'{{"k1": "{real_key}"}}')
    monkeypatch.setenv("METRICS_ACTIVE_KEY_ID", "k1")
    loaded = MetricsSettings()
    assert loaded.internal_tokens == ("current-secret", "previous-secret")


def test_a_placeholder_is_refused_among_the_accepted_tokens_outside_development():
    with pytest.raises(ValueError, match="internal_token"):
        settings("a-real-secret", "change-me", environment="production")
