"""Every endpoint of the merged OpenAPI, called with another workspace's key and with a key of
too low a role: nothing of the victim's leaks, and nothing of the victim's changes.

The victim workspace holds one of everything (tests/gateway/world.py), each piece of text
carrying its marker. The walk takes its list of operations from the running platform's own
document, so an endpoint added later is swept too; it needs a request body listed below, and
the test says so when one is missing.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.auth import PERMISSIONS
from tests.gateway.world import World, build_world, hook_receiver

METHODS = ("get", "post", "put", "patch", "delete")
# Public endpoints prove the caller by other means (a network's signature, an invitation or
# feed or review token, an OAuth state); a workspace key changes nothing there. The API-wide tests
# exercise them with schemathesis.
PUBLIC = re.compile(
    r"^/(hooks|l|reports)/|^/v1/calendar\.ics$|^/v1/members/accept$|/callback/|^/v1/review/"
)

LATER = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%S")
# A range that holds everything the world made (the calendar takes at most 400 days).
FROM = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
TO = (datetime.now(UTC) + timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%SZ")


def bodies(victim: World) -> dict[tuple[str, str], Any]:
    """A valid request for every operation that takes a body, aimed at the victim's data."""
    v = victim.ids
    csv = f"text,channel_id,at,timezone\nhijack,{v['channel_id']},{LATER},UTC\n"
    return {
        ("post", "/v1/api-keys"): {"name": "intruder", "role": "analyst"},
        ("post", "/v1/campaigns"): {"name": "intruder"},
        ("patch", "/v1/campaigns/{campaign_id}"): {"name": "hijacked", "tags": ["hijacked"]},
        ("put", "/v1/alerts/settings"): {"window_minutes": 7, "min_messages": 3},
        ("post", "/v1/channels"): {"network": "x", "credentials": {"access_token": "nope"}},
        ("patch", "/v1/channels/{channel_id}"): {"name": "hijacked"},
        ("put", "/v1/channels/{channel_id}/slots"): [{"weekday": 2, "time": "10:00", "cap": 1}],
        ("put", "/v1/channels/{channel_id}/pacing"): {"daily_cap": 3},
        ("patch", "/v1/conversations/{conversation_id}"): {
            "status": "resolved",
            "tags": ["hijacked"],
        },
        ("post", "/v1/conversations/{conversation_id}/messages/{message_id}/moderation"): {
            "action": "hide"
        },
        ("post", "/v1/conversations/{conversation_id}/notes"): {"text": "hijacked"},
        ("post", "/v1/conversations/{conversation_id}/replies"): {"saved_reply_id": v["reply_id"]},
        ("post", "/v1/conversions"): {
            "link_code": victim.link_code,
            "name": "hijacked",
            "value": 5,
        },
        ("put", "/v1/inbox/keywords"): {"keywords": [{"term": "hijacked", "weight": 1}]},
        ("put", "/v1/inbox/sla"): {"urgent": 1},
        ("post", "/v1/inbox/rules"): {"name": "hijacked", "pattern": "hijacked"},
        ("put", "/v1/inbox/rules/{rule_id}"): {"name": "hijacked", "pattern": "hijacked"},
        ("post", "/v1/links"): {"url": "https://example.com/hijacked", "post_id": v["post_id"]},
        # An import the outbound rules refuse at once (a private address).
        ("post", "/v1/media"): {"url": "http://127.0.0.1:9/hijacked.png"},
        ("post", "/v1/members/invitations"): {"email": "intruder@example.com", "role": "analyst"},
        ("patch", "/v1/members/{member_id}"): {"role": "editor"},
        ("post", "/v1/posts"): {
            "text": "hijack",
            "targets": [{"channel_id": v["channel_id"]}],
            "schedule": {"at": LATER, "timezone": "UTC"},
        },
        ("post", "/v1/posts/import"): ("text/csv", csv),
        ("post", "/v1/posts/validate"): {
            "text": "hijack",
            "targets": [{"channel_id": v["channel_id"]}],
        },
        ("patch", "/v1/posts/{post_id}"): {"text": "hijacked"},
        ("post", "/v1/posts/{post_id}/approve"): {"comment": "fine"},
        ("post", "/v1/posts/{post_id}/reject"): {"comment": "no"},
        ("post", "/v1/contests"): {
            "post_ids": [v["post_id"]],
            "starts_at": FROM,
            "ends_at": LATER,
            "winners": 1,
        },
        ("put", "/v1/channels/{channel_id}/queue"): {"post_ids": []},
        ("post", "/v1/queue/freeze"): {"channel_id": v["channel_id"], "reason": "hijack"},
        ("post", "/v1/queue/resume"): {"channel_id": v["channel_id"]},
        ("post", "/v1/reports"): {"from": FROM, "to": TO, "channel_ids": [v["channel_id"]]},
        ("post", "/v1/reports/schedules"): {"channel_ids": [v["channel_id"]]},
        ("put", "/v1/analytics/ga4"): {"measurement_id": "G-INTRUDER1", "api_secret": "intruder"},
        ("post", "/v1/posts/{post_id}/template"): {"name": "hijacked"},
        ("post", "/v1/posts/{post_id}/duplicate"): {},
        ("post", "/v1/posts/{post_id}/review-links"): {"reviewer": "intruder"},
        ("patch", "/v1/posts/{post_id}/occurrences/{at}"): {"text": "hijacked"},
        ("post", "/v1/posts/templates/{template_id}/posts"): {"text": "hijacked"},
        ("post", "/v1/saved-replies"): {"name": "hijacked", "text": "hijacked"},
        ("patch", "/v1/saved-replies/{reply_id}"): {"name": "hijacked"},
        ("put", "/v1/scheduler/settings"): {"approval_required": True},
        ("post", "/v1/webhooks"): {
            "url": "https://example.com/intruder",
            "events": ["post.published"],
        },
        ("patch", "/v1/webhooks/{webhook_id}"): {"enabled": False},
        ("post", "/v1/webhooks/{webhook_id}/rotate-secret"): {},
        ("post", "/v1/workspaces"): {"name": "intruder", "timezone": "UTC"},
        ("patch", "/v1/workspaces/{workspace_id}"): {"rate_limit": 1},
    }


# The victim's post is at version 1: the precondition holds, so only ownership can refuse.
HEADERS = {("patch", "/v1/posts/{post_id}"): {"If-Match": '"1"'}}


def query(path: str, op: dict[str, Any], victim: World) -> dict[str, str]:
    """Required query parameters, and every filter that can name one of the victim's things."""
    out: dict[str, str] = {}
    for param in op.get("parameters", []):
        if param["in"] != "query":
            continue
        name = param["name"]
        if name in victim.ids:
            out[name] = victim.ids[name]
        elif name == "from":
            out[name] = FROM
        elif name == "to":
            out[name] = TO
        elif name == "redirect_uri":
            out[name] = "https://example.com/back"
        elif param.get("required"):
            raise AssertionError(f"no value for the required query parameter {name} of {path}")
    return out


def fill(path: str, victim: World) -> str:
    values = {
        **victim.ids,
        "workspace_id": victim.workspace_id,
        "network": "x",
        "key_id": victim.ids["analyst_key_id"],
        # An occurrence of a recurring post is named by its instant.
        "at": "2031-01-06T09:00:00Z",
    }
    # A parameter the world has nothing for gets an id that exists nowhere.
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), path)


async def snapshot(gw: httpx.AsyncClient, victim: World) -> dict[str, Any]:
    """Everything the victim's owner can read about the victim's workspace."""
    v = victim.ids
    reads = [
        "/v1/channels",
        f"/v1/channels/{v['channel_id']}",
        f"/v1/channels/{v['channel_id']}/slots",
        f"/v1/posts/{v['post_id']}",
        f"/v1/posts/{v['post_id']}/transitions",
        f"/v1/posts/templates/{v['template_id']}",
        f"/v1/posts/{v['post_id']}/review-links",
        "/v1/campaigns",
        f"/v1/campaigns/{v['campaign_id']}",
        "/v1/posts/templates",
        "/v1/saved-replies",
        "/v1/inbox/rules",
        "/v1/inbox/keywords",
        "/v1/inbox/sla",
        "/v1/alerts/settings",
        "/v1/conversations",
        f"/v1/conversations/{v['conversation_id']}",
        "/v1/links",
        "/v1/webhooks",
        f"/v1/webhooks/{v['webhook_id']}/deliveries",
        "/v1/members",
        "/v1/api-keys?include_revoked=true",
        "/v1/scheduler/settings",
        "/v1/analytics/conversions",
        f"/v1/calendar?from={FROM}&to={TO}",
    ]
    state: dict[str, Any] = {}
    for url in reads:
        r = await gw.get(url, headers=victim.owner)
        assert r.status_code == 200, f"GET {url}: {r.text}"
        state[url] = r.json()
    return state


def leaked(response: httpx.Response, victim: World, sent: str) -> list[str]:
    """The victim's secrets in the response that the caller did not send itself."""
    text = response.text + json.dumps(dict(response.headers))
    return [s for s in victim.secrets() if s and s in text and s not in sent]


def analyst_may(method: str, path: str) -> bool:
    """Whether the lowest role is meant to succeed (PERMISSIONS: it holds only *.read)."""
    if method != "get":
        # Reading that happens to be a POST: checking a draft, refreshing analytics, putting
        # the numbers in a report.
        return path in {
            "/v1/posts/validate",
            "/v1/analytics/posts/{post_id}/refresh",
            "/v1/reports",
        }
    manage_only = ("/v1/api-keys", "/v1/members", "/v1/webhooks")
    return not path.startswith(manage_only)


async def test_no_endpoint_leaks_or_changes_another_workspace(api_platform):
    assert "analyst" not in PERMISSIONS["posts.write"]  # the premise of analyst_may()
    async with hook_receiver() as hook_url:
        victim = await build_world(api_platform, hook_url=hook_url)
        intruder = await build_world(api_platform, hook_url=hook_url)
        config = api_platform.config
        async with httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as gw:
            doc = (await gw.get("/openapi.json")).json()
            before = await snapshot(gw, victim)
            table = bodies(victim)
            missing, problems = [], []
            swept = 0
            for path, item in doc["paths"].items():
                if PUBLIC.search(path):
                    continue
                for method in METHODS:
                    op = item.get(method)
                    if op is None:
                        continue
                    body: Any = None
                    if "requestBody" in op:
                        if (method, path) not in table:
                            missing.append(f"{method.upper()} {path}")
                            continue
                        body = table[(method, path)]
                    url = fill(path, victim)
                    params = query(path, op, victim)
                    for who, headers in (
                        ("other workspace", intruder.owner),
                        ("analyst", victim.analyst),
                    ):
                        kwargs: dict[str, Any] = {
                            "params": params,
                            "headers": {**headers, **HEADERS.get((method, path), {})},
                        }
                        if isinstance(body, tuple):
                            kwargs["headers"]["content-type"] = body[0]
                            kwargs["content"] = body[1]
                        elif body is not None:
                            kwargs["json"] = body
                        r = await gw.request(method.upper(), url, **kwargs)
                        swept += 1
                        sent = url + json.dumps(params) + json.dumps(body)
                        where = f"{who}: {method.upper()} {path} → {r.status_code}"
                        if r.status_code >= 500:
                            problems.append(f"{where} {r.text[:300]}")
                            continue
                        found = leaked(r, victim, sent)
                        if who == "other workspace" and found:
                            problems.append(f"{where} leaks {found}: {r.text[:300]}")
                        names_victim = any(value in url for value in victim.ids.values())
                        # The victim's thing named in the path does not exist for others.
                        foreign = who == "other workspace" and names_victim and "{" in path
                        if foreign and r.status_code not in (401, 403, 404):
                            problems.append(f"{where}, expected 404: {r.text[:300]}")
                        too_low = who == "analyst" and not analyst_may(method, path)
                        if too_low and r.status_code not in (401, 403):
                            problems.append(f"{where}, expected 403: {r.text[:300]}")
            after = await snapshot(gw, victim)
    assert not missing, f"operations with a body and no sweep request: {missing}"
    assert swept > 100
    assert not problems, "\n".join(problems)
    changed = [url for url in before if before[url] != after[url]]
    assert not changed, {url: (before[url], after[url]) for url in changed}
