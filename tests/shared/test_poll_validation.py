"""`options.poll` is checked per network against what its API takes, before scheduling."""

import pytest

from shared.networks import MediaRef, validate_variant

GOOD = {"options": ["Tea", "Coffee"], "duration_minutes": 60}


def codes(network, **options):
    check = validate_variant(network, text="Which?", options=options)
    return [(p.code, p.field) for p in check.problems if p.severity == "error"]


@pytest.mark.parametrize("network", ["x", "mastodon"])
def test_a_poll_within_the_networks_limits_passes(network):
    assert codes(network, poll=GOOD) == []


def test_threads_polls_last_a_day_and_the_duration_may_be_left_out():
    assert codes("threads", poll={"options": ["Tea", "Coffee"]}) == []
    assert codes("threads", poll={**GOOD, "duration_minutes": 1440}) == []
    assert codes("threads", poll=GOOD) == [("option_invalid", "options.poll.duration_minutes")]


def test_linkedin_polls_have_their_own_question_and_four_durations():
    day = {"options": ["Tea", "Coffee"], "duration_minutes": 1440}
    assert codes("linkedin", poll={**day, "question": "Which?"}) == []
    assert codes("linkedin", poll={**day, "duration_minutes": 7 * 1440, "question": "Which?"}) == []
    assert codes("linkedin", poll=day) == [("option_invalid", "options.poll.question")]
    assert codes("linkedin", poll={**day, "question": "q" * 141}) == [
        ("option_invalid", "options.poll.question")
    ]
    assert codes("linkedin", poll={**day, "duration_minutes": 2 * 1440, "question": "Which?"}) == [
        ("option_invalid", "options.poll.duration_minutes")
    ]
    assert codes("linkedin", poll={**day, "options": ["a" * 31, "b"], "question": "Which?"}) == [
        ("option_invalid", "options.poll.options[0]")
    ]
    # Where the post's text is the question, another one is refused rather than dropped.
    assert codes("x", poll={**GOOD, "question": "Which?"}) == [
        ("option_invalid", "options.poll.question")
    ]


@pytest.mark.parametrize(
    "network", ["facebook", "instagram", "tiktok", "youtube", "bluesky"]
)
def test_networks_without_polls_refuse_them(network):
    assert ("option_not_supported", "options.poll") in codes(network, poll=GOOD)


@pytest.mark.parametrize(
    ("network", "poll", "field"),
    [
        ("x", {"options": ["Tea"], "duration_minutes": 60}, "options.poll.options"),
        (
            "x",
            {"options": ["a", "b", "c", "d", "e"], "duration_minutes": 60},
            "options.poll.options",
        ),
        ("x", {"options": ["a" * 26, "b"], "duration_minutes": 60}, "options.poll.options[0]"),
        (
            "mastodon",
            {"options": ["a" * 50, "b" * 51], "duration_minutes": 60},
            "options.poll.options[1]",
        ),
        ("x", {"options": ["Tea", "tea"], "duration_minutes": 60}, "options.poll.options"),
        ("x", {"options": ["a", "b"], "duration_minutes": 4}, "options.poll.duration_minutes"),
        ("x", {"options": ["a", "b"], "duration_minutes": 10081}, "options.poll.duration_minutes"),
        (
            "mastodon",
            {"options": ["a", "b"], "duration_minutes": 30 * 24 * 60 + 1},
            "options.poll.duration_minutes",
        ),
        ("x", {"options": ["a", "b"]}, "options.poll.duration_minutes"),
        (
            "x",
            {"options": ["a", "b"], "duration_minutes": 60, "multiple": True},
            "options.poll.multiple",
        ),
        ("x", ["a", "b"], "options.poll"),
    ],
)
def test_each_refusal_names_the_field(network, poll, field):
    assert ("option_invalid", field) in codes(network, poll=poll)


def test_mastodon_takes_several_answers_per_voter():
    assert codes("mastodon", poll={**GOOD, "multiple": True}) == []


def test_a_poll_and_media_together_are_refused():
    check = validate_variant(
        "x",
        text="Which?",
        media=[MediaRef(url="https://example.com/a.jpg", kind="image")],
        options={"poll": GOOD},
    )
    assert [(p.code, p.field) for p in check.problems if p.severity == "error"] == [
        ("option_invalid", "options.poll")
    ]
