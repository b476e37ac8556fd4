"""The checker itself: it must see every way a run can go wrong, or a green run means nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.faults.checker import (
    ConfirmedPost,
    FaultWindow,
    SentWebhook,
    check_posts,
    check_webhooks,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float) -> str:
    return at(seconds).isoformat().replace("+00:00", "Z")


def test_posts_lost_duplicated_late_failed_and_recovered_are_told_apart():
    posts = [ConfirmedPost(post_id=f"p{i}", text=f"t{i}", due_at=at(i)) for i in range(6)]
    final = {
        "p0": {"status": "published"},  # before the fault
        "p1": {"status": "published"},  # held up by the fault, out 5 s after it healed
        "p2": {"status": "published"},  # twice on the network
        "p3": {"status": "failed", "error": {"message": "rejected"}},
        "p4": {"status": "scheduled"},  # never settled: lost
        "p5": {"status": "published"},  # out 100 s late (and held up)
    }
    network = [
        {"text": "t0", "created_at": iso(0.5)},
        {"text": "t1", "created_at": iso(15)},
        {"text": "t2", "created_at": iso(3)},
        {"text": "t2", "created_at": iso(4)},
        {"text": "t5", "created_at": iso(105)},
    ]
    window = FaultWindow(began=at(1), healed=at(10))
    v = check_posts("s", confirmed=posts, final_targets=final, on_network=network, window=window)
    assert (v.confirmed, v.done, v.failed_with_reason, v.lost, v.duplicated, v.late) == (
        6,
        4,
        1,
        1,
        1,
        1,
    )
    assert not v.ok
    # p1, p2, p3, p4, p5 were due before it healed and not out before it began.
    assert v.exposed == 5
    assert v.recovered == 4
    assert v.recovered_after_seconds == 95
    assert v.resumed_after_seconds == 5


def test_a_failed_post_that_still_reached_the_network_is_lost_not_failed():
    posts = [ConfirmedPost(post_id="p", text="t", due_at=at(0))]
    v = check_posts(
        "s",
        confirmed=posts,
        final_targets={"p": {"status": "failed", "error": {"message": "x"}}},
        on_network=[{"text": "t", "created_at": iso(1)}],
    )
    assert v.lost == 1 and not v.ok


def test_webhooks_answered_200_exactly_once_and_bad_signatures_nowhere():
    sent = [
        SentWebhook("a", signed=True, answered_200=True, first_sent=at(0)),
        SentWebhook("b", signed=True, answered_200=True, first_sent=at(0)),
        SentWebhook("c", signed=True, answered_200=True, first_sent=at(2)),
        SentWebhook("d", signed=True, answered_200=False, first_sent=at(3)),
        SentWebhook("e", signed=False, first_sent=at(0)),
        SentWebhook("f", signed=False, first_sent=at(0)),
    ]
    messages = {"a": [at(1)], "c": [at(12), at(13)], "d": [at(4)]}
    v = check_webhooks(
        "flood",
        sent=sent,
        messages=messages,
        receipts=Counter({"a": 1, "c": 1, "d": 1, "f": 1}),
        window=FaultWindow(began=at(1.5), healed=at(10)),
    )
    assert (v.confirmed, v.unconfirmed, v.done, v.lost, v.duplicated) == (3, 1, 2, 1, 1)
    assert (v.rejected, v.stored_rejected) == (2, 1)
    assert v.recovered_after_seconds == 2
    assert v.resumed_after_seconds == 2
    assert not v.ok
    clean = check_webhooks(
        "flood",
        sent=sent[:2] + sent[4:5],
        messages={"a": [at(1)], "b": [at(1)]},
        receipts=Counter({"a": 1, "b": 1}),
        window=None,
    )
    assert clean.ok and clean.done == 2 and clean.rejected == 1
