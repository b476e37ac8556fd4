"""Simulated engagement that follows a per-account weekly rhythm.

Each account gets a peak hour, a smaller second peak and favourite weekdays, derived from its
id so every run agrees. A post's engagement scales with how well its publish time (UTC) hits
that rhythm and decays with age, so an analytics job looking for the best time can find it.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.state import Account

if TYPE_CHECKING:
    from sandbox.core import Sandbox

DECAY_HOURS = 24.0


def _profile(account: Account) -> tuple[int, int, list[int], int]:
    digest = hashlib.sha256(f"{account.network}:{account.id}".encode()).digest()
    peak = digest[0] % 24
    second = (peak + 8 + digest[1] % 5) % 24
    first_day = digest[2] % 7
    days = sorted({first_day, (first_day + 1 + digest[3] % 3) % 7})
    audience = 500 + int.from_bytes(digest[4:6], "big") % 4500
    return peak, second, days, audience


def _bump(hour: int, centre: int, width: float) -> float:
    d = min(abs(hour - centre), 24 - abs(hour - centre))
    return math.exp(-(d * d) / (2 * width * width))


def weight(account: Account, weekday: int, hour: int) -> float:
    peak, second, days, _ = _profile(account)
    w = 0.15 + _bump(hour, peak, 1.5) + 0.45 * _bump(hour, second, 1.5)
    return w * (1.35 if weekday in days else 0.8)


def pattern(account: Account) -> dict[str, Any]:
    peak, second, days, audience = _profile(account)
    grid = [[round(weight(account, d, h), 4) for h in range(24)] for d in range(7)]
    slots = sorted(
        ((grid[d][h], d, h) for d in range(7) for h in range(24)), reverse=True
    )[:3]
    return {
        "account": account.id,
        "timezone": "UTC",
        "weekday_numbering": "0=Monday",
        "peak_hour": peak,
        "secondary_hour": second,
        "peak_weekdays": days,
        "audience": audience,
        "grid": grid,
        "best_slots": [{"weekday": d, "hour": h, "weight": w} for w, d, h in slots],
    }


def tick(sb: Sandbox, hours: float) -> dict[str, Any]:
    hours = max(0.0, float(hours))
    touched = 0
    for network, posts in sb.state.posts.items():
        accounts = sb.state.accounts[network]
        for post in posts.values():
            if post.account_id is None or post.deleted or post.kind != "post":
                continue
            account = accounts.get(post.account_id)
            if account is None:
                continue
            _grow(account, post.metrics, post.created_at, hours)
            touched += 1
    sb.state.engagement_hours += hours
    return {"hours": hours, "posts": touched, "simulated_hours": sb.state.engagement_hours}


def _grow(account: Account, metrics: dict[str, float], created_at: float, hours: float) -> None:
    when = datetime.fromtimestamp(created_at, UTC)
    _, _, _, audience = _profile(account)
    w = weight(account, when.weekday(), when.hour)
    age = metrics.get("_age_hours", 0.0)
    # Integral of the exponential decay over the simulated interval, so two half-hour ticks add
    # up to one one-hour tick.
    share = math.exp(-age / DECAY_HOURS) - math.exp(-(age + hours) / DECAY_HOURS)
    views = audience * 2.0 * w * share
    metrics["_age_hours"] = age + hours
    for name, rate in (
        ("views", 1.0),
        ("reach", 0.7),
        ("likes", 0.06 * w),
        ("shares", 0.012 * w),
        ("replies", 0.008 * w),
        ("quotes", 0.002 * w),
        ("bookmarks", 0.004 * w),
        ("saves", 0.003 * w),
        ("clicks", 0.02 * w),
    ):
        metrics[name] = metrics.get(name, 0.0) + views * rate
