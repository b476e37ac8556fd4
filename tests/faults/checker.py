"""A queue checker in the style of Jepsen's: what was confirmed must end exactly once.

Every post the API confirmed (201) must end `published` exactly once on the network, or
`failed`/`missed` with a reason. Anything else is lost; a second copy on the network is a
duplicate; a post that went out later than `late_after` seconds past its due time is late.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class ConfirmedPost:
    post_id: str
    text: str
    due_at: datetime


@dataclass
class Verdict:
    scenario: str
    confirmed: int = 0
    published: int = 0
    failed_with_reason: int = 0
    lost: int = 0
    duplicated: int = 0
    late: int = 0
    recovered_after_seconds: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0

    def line(self) -> str:
        recovered = (
            f"{self.recovered_after_seconds:.1f}s"
            if self.recovered_after_seconds is not None
            else "—"
        )
        return (
            f"{self.scenario:<28} confirmed={self.confirmed} published={self.published} "
            f"failed={self.failed_with_reason} lost={self.lost} duplicated={self.duplicated} "
            f"late={self.late} time-to-recover={recovered}"
        )


def check(
    scenario: str,
    *,
    confirmed: list[ConfirmedPost],
    final_targets: dict[str, dict[str, Any]],
    on_network: list[dict[str, Any]],
    late_after: float = 60.0,
) -> Verdict:
    """`final_targets`: post id → its target as the API shows it at the end;
    `on_network`: every post the sandbox holds for the account(s)."""
    verdict = Verdict(scenario=scenario, confirmed=len(confirmed))
    copies = Counter(p["text"] for p in on_network)
    created_at = {p["text"]: p.get("created_at") for p in on_network}
    for post in confirmed:
        target = final_targets.get(post.post_id) or {}
        status = target.get("status")
        n = copies.get(post.text, 0)
        if n > 1:
            verdict.duplicated += n - 1
            verdict.problems.append(f"{post.post_id}: {n} copies on the network")
        if status == "published" and n >= 1:
            verdict.published += 1
            when = created_at.get(post.text)
            if when:
                at = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
                if (at - post.due_at).total_seconds() > late_after:
                    verdict.late += 1
        elif status in ("failed", "missed") and target.get("error") and n == 0:
            verdict.failed_with_reason += 1
        else:
            verdict.lost += 1
            verdict.problems.append(
                f"{post.post_id}: status={status!r} error={target.get('error')!r} copies={n}"
            )
    return verdict
