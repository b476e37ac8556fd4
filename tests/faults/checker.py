"""A queue checker in the style of Jepsen's: what was confirmed must end exactly once.

Posts: every post the API confirmed (201) must end `published` exactly once on the network,
or `failed`/`missed` with a reason. Anything else is lost; a second copy on the network is a
duplicate; a post that went out more than `late_after` seconds after it was due is late.

Webhooks: every event the platform answered 200 must be in the inbox exactly once; an event
with a bad signature must be stored nowhere.

Both report the fault's reach: `exposed` are the items the fault could have hurt (not done
when it began, due or sent before it healed), `recovered` those of them that still ended well,
`resumed_after` how long after the fault healed the first item was done again (the
outage as users see it) and `recovered_after` how long after it healed the last exposed item
was done (the outage plus working off the backlog it left).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class ConfirmedPost:
    post_id: str
    text: str
    due_at: datetime


@dataclass
class FaultWindow:
    """When the fault began and when it healed (wall clock, comparable with stored times)."""

    began: datetime
    healed: datetime


@dataclass
class Verdict:
    scenario: str
    confirmed: int = 0
    unconfirmed: int = 0
    done: int = 0
    failed_with_reason: int = 0
    lost: int = 0
    duplicated: int = 0
    late: int = 0
    exposed: int = 0
    recovered: int = 0
    rejected: int = 0
    stored_rejected: int = 0
    recovered_after_seconds: float | None = None
    resumed_after_seconds: float | None = None
    settled_after_seconds: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def published(self) -> int:
        """Posts: published exactly once (webhooks: in the inbox exactly once)."""
        return self.done

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.stored_rejected == 0

    def line(self) -> str:
        def secs(value: float | None) -> str:
            return f"{value:.1f}s" if value is not None else "—"

        extra = (
            f" bad-signature={self.rejected} stored-bad={self.stored_rejected}"
            if self.rejected
            else ""
        )
        return (
            f"{self.scenario:<30} confirmed={self.confirmed} unconfirmed={self.unconfirmed} "
            f"done={self.done} failed={self.failed_with_reason} lost={self.lost} "
            f"duplicated={self.duplicated} late={self.late} "
            f"recovered={self.recovered}/{self.exposed}{extra} "
            f"time-to-recover: resumed={secs(self.resumed_after_seconds)} "
            f"caught-up={secs(self.recovered_after_seconds)} "
            f"settled={secs(self.settled_after_seconds)}"
        )


def when(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def check_posts(
    scenario: str,
    *,
    confirmed: list[ConfirmedPost],
    final_targets: dict[str, dict[str, Any]],
    on_network: list[dict[str, Any]],
    window: FaultWindow | None = None,
    late_after: float = 60.0,
) -> Verdict:
    """`final_targets`: post id → its target as the API shows it at the end;
    `on_network`: every post the sandbox holds for the account."""
    verdict = Verdict(scenario=scenario, confirmed=len(confirmed))
    copies = Counter(p["text"] for p in on_network)
    created_at = {p["text"]: when(p.get("created_at")) for p in on_network}
    last_recovery: datetime | None = None
    for post in confirmed:
        target = final_targets.get(post.post_id) or {}
        status = target.get("status")
        n = copies.get(post.text, 0)
        at = created_at.get(post.text)
        exposed = (
            window is not None
            and post.due_at <= window.healed
            and (at is None or at >= window.began)
        )
        verdict.exposed += exposed
        if n > 1:
            verdict.duplicated += n - 1
            verdict.problems.append(f"{post.post_id}: {n} copies on the network")
        if status == "published" and n >= 1:
            verdict.done += 1
            if at is not None:
                if (at - post.due_at).total_seconds() > late_after:
                    verdict.late += 1
                if exposed:
                    last_recovery = max(last_recovery or at, at)
            verdict.recovered += exposed
        elif status in ("failed", "missed") and target.get("error") and n == 0:
            verdict.failed_with_reason += 1
            verdict.recovered += exposed
        else:
            verdict.lost += 1
            verdict.problems.append(
                f"{post.post_id}: status={status!r} error={target.get('error')!r} copies={n}"
            )
    if window is not None:
        if last_recovery is not None:
            verdict.recovered_after_seconds = max(
                0.0, (last_recovery - window.healed).total_seconds()
            )
        verdict.resumed_after_seconds = resumed(window, created_at.values())
    return verdict


def resumed(window: FaultWindow, done_at: Iterable[datetime | None]) -> float | None:
    after = [at for at in done_at if at is not None and at >= window.healed]
    return (min(after) - window.healed).total_seconds() if after else None


@dataclass
class SentWebhook:
    event_id: str
    signed: bool
    answered_200: bool = False
    first_sent: datetime | None = None


def check_webhooks(
    scenario: str,
    *,
    sent: list[SentWebhook],
    messages: dict[str, list[datetime]],
    receipts: Counter[str],
    window: FaultWindow | None,
    late_after: float = 60.0,
) -> Verdict:
    """`messages`: event id → when each inbox message with that id was made;
    `receipts`: event id → stored receipts for it."""
    verdict = Verdict(scenario=scenario)
    last_recovery: datetime | None = None
    for hook in sent:
        made = messages.get(hook.event_id, [])
        if not hook.signed:
            verdict.rejected += 1
            if made or receipts.get(hook.event_id):
                verdict.stored_rejected += 1
                verdict.problems.append(f"{hook.event_id}: bad signature but stored")
            continue
        if len(made) > 1:
            verdict.duplicated += len(made) - 1
            verdict.problems.append(f"{hook.event_id}: {len(made)} messages in the inbox")
        if not hook.answered_200:
            verdict.unconfirmed += 1
            continue
        verdict.confirmed += 1
        exposed = (
            window is not None
            and hook.first_sent is not None
            and hook.first_sent <= window.healed
            and (not made or made[0] >= window.began)
        )
        verdict.exposed += exposed
        if not made:
            verdict.lost += 1
            verdict.problems.append(f"{hook.event_id}: answered 200, not in the inbox")
            continue
        verdict.done += 1
        verdict.recovered += exposed
        if hook.first_sent and (made[0] - hook.first_sent).total_seconds() > late_after:
            verdict.late += 1
        if exposed:
            last_recovery = max(last_recovery or made[0], made[0])
    if window is not None:
        if last_recovery is not None:
            verdict.recovered_after_seconds = max(
                0.0, (last_recovery - window.healed).total_seconds()
            )
        verdict.resumed_after_seconds = resumed(
            window, (at for made in messages.values() for at in made)
        )
    return verdict
