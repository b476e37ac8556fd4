"""Sentiment with workspace keywords in any language; rules applied on ingest."""

from __future__ import annotations

from typing import Any

from services.inbox.rules import MAX_EXPANSION, expansion
from services.inbox.sentiment import Keywords, score, vader_alone
from tests.conftest import identity
from tests.inbox.conftest import Inbox, x_sign
from tests.inbox.test_handling import of_type
from tests.inbox.test_members import add_member
from tests.inbox.test_x_webhooks import ACCOUNT, delivery, tweet


def test_keywords_score_hebrew_and_icelandic_and_emoji() -> None:
    keywords = Keywords.of({"*נורא": -3.0, "frábær*": 3.0})
    assert vader_alone("השירות נורא") == 0.0  # VADER alone knows no Hebrew
    assert score(text="השירות נורא", language="he") < -0.05  # the built-in lexicon does
    assert score(text="השירות נורא", keywords=keywords) < -0.05
    assert score(text="והשירות היה ממש נורא", keywords=keywords) < -0.05  # prefix ו
    assert score(text="Þetta er FRÁBÆRT!", keywords=keywords) > 0.05
    assert score(text="Frábær þjónusta", keywords=keywords) > 0.05  # another inflection
    assert score(text="unfrábær words stay whole", keywords=keywords, language="en") == 0.0
    assert score(text="😡😡") < -0.05 and score(text="👍") > 0.05
    # Mixed languages add up on VADER's scale.
    assert score(text="I love it but נורא", keywords=keywords) < score(text="I love it")


def test_workspace_keywords_take_precedence() -> None:
    # A gaming community where "sick" is praise: VADER reads it as negative.
    assert score(text="that trailer is sick", language="en") < -0.05
    praise = Keywords.of({"sick": 2.0})
    assert score(text="that trailer is sick", keywords=praise, language="en") > 0.05
    # Where the scorer and the workspace agree, they add up.
    grumble = Keywords.of({"refund*": -1.0})
    assert score(text="terrible, I want a refund", keywords=grumble, language="en") < score(
        text="terrible, I want a refund", language="en"
    )
    # A language no scorer covers: no score, unless the workspace's own words say something.
    assert score(text="Il servizio è pessimo", language="it") is None
    assert score(text="Il servizio è pessimo", language="it",
                 keywords=Keywords.of({"pessim*": -3.0})) < -0.05


async def post(inbox: Inbox, tweet_id: str, text: str) -> None:
    body = delivery(tweet(tweet_id, text))
    r = await inbox.client.post("/hooks/x", content=body, headers=x_sign(body))
    assert r.status_code == 200, r.text


async def by_text(inbox: Inbox, n: int) -> dict[str, dict[str, Any]]:
    async def enough() -> Any:
        items = (await inbox.conversations())["items"]
        return items if len(items) >= n else None

    items = await inbox.wait_for(enough)
    out = {}
    for item in items:
        detail = (await inbox.client.get(f"/v1/conversations/{item['id']}",
                                         headers=identity(inbox.workspace_id))).json()
        out[detail["messages"][0]["text"]] = detail
    return out


async def test_keywords_and_rules_through_the_api(inbox: Inbox) -> None:
    owner = identity(inbox.workspace_id)
    r = await inbox.client.put("/v1/inbox/keywords", headers=owner, json={"keywords": [
        {"term": "נורא", "weight": -3}, {"term": "frábært", "weight": 3}]})
    assert r.status_code == 200, r.text
    assert (await inbox.client.put("/v1/inbox/keywords", headers=identity(
        inbox.workspace_id, "editor"), json={"keywords": []})).status_code == 403
    billing = await add_member(inbox, "billing@example.com")
    # A rule assigns to a member only: a name that is none is refused.
    r = await inbox.client.post("/v1/inbox/rules", headers=owner, json={
        "name": "refunds", "pattern": "refund*", "assignee": "billing-team"})
    assert r.status_code == 422 and r.json()["field"] == "assignee"
    rules = [
        {"name": "refunds", "match": "keyword", "pattern": "refund*, money back",
         "tags": ["billing"], "assignee": billing, "priority": "high"},
        {"name": "spam", "match": "regex", "pattern": r"(buy|cheap)\s+followers",
         "tags": ["spam"], "hide": True},
        {"name": "vip", "match": "regex", "pattern": "(a+)+$", "tags": ["never"]},
    ]
    for rule in rules:
        r = await inbox.client.post("/v1/inbox/rules", headers=owner, json=rule)
        assert r.status_code == 201, r.text
    bad = await inbox.client.post("/v1/inbox/rules", headers=owner, json={
        "name": "broken", "match": "regex", "pattern": "(unclosed"})
    assert bad.status_code == 422 and bad.json()["field"] == "pattern"
    listed = (await inbox.client.get("/v1/inbox/rules", headers=owner)).json()["items"]
    assert [x["name"] for x in listed] == ["refunds", "spam", "vip"]

    seen = await inbox.spy()
    await inbox.connect_channel(network="x", external_id=ACCOUNT)
    await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
    await post(inbox, "1800000000000000401", "השירות שלכם נורא")
    await post(inbox, "1800000000000000402", "Þjónustan var frábært")
    await post(inbox, "1800000000000000403", "I want a REFUND now")
    await post(inbox, "1800000000000000404", "Buy   cheap followers here")
    # A pathological regex against a long input is cut off by the time limit, not hanging.
    await post(inbox, "1800000000000000405", "a" * 5000 + "!")
    got = await by_text(inbox, 5)

    hebrew = got["השירות שלכם נורא"]
    # The built-in Hebrew lexicon and the workspace's keyword agree: urgent.
    assert hebrew["sentiment"] == "negative" and hebrew["priority"] == "urgent"
    assert hebrew["language"] == "he"
    assert got["Þjónustan var frábært"]["sentiment"] == "positive"
    refund = got["I want a REFUND now"]
    assert refund["tags"] == ["billing"] and refund["assignee"] == billing
    assert refund["priority"] == "high"
    spam = got["Buy   cheap followers here"]
    assert spam["tags"] == ["spam"]
    assert spam["messages"][0]["moderation"] == "hide_requested"
    [hide] = await inbox.wait_for(lambda: of_type(seen, "comment.moderation_requested"))
    assert hide.data["action"] == "hide" and hide.data["requested_by"].startswith("rule:")
    assert got["a" * 5000 + "!"]["tags"] == []

    # Filters over what the rules and sentiment decided.
    assert len((await inbox.conversations(tag="billing"))["items"]) == 1
    assert len((await inbox.conversations(priority="high"))["items"]) == 1
    assert len((await inbox.conversations(priority="urgent"))["items"]) == 1
    assert len((await inbox.conversations(language="he"))["items"]) == 1
    assert len((await inbox.conversations(sentiment="negative"))["items"]) >= 1


def test_a_pattern_is_measured_by_what_its_counted_repeats_multiply_out() -> None:
    assert expansion("refund") == 6
    assert expansion(r"\d{3}-\d{4}") == 8
    assert expansion(r"\p{L}{2}[{]{2}\{3\}") == 2 + 2 + 3  # braces that are not counts
    assert expansion("(ab){3}") == 6
    assert expansion(r"(?:a{100}){100}") <= MAX_EXPANSION
    for bomb in (r"(?:a{1000}){1000}", r"((a{100}){100}){100}", r"(?:\w{1,4000}){1,4000}"):
        assert expansion(bomb) > MAX_EXPANSION, bomb
