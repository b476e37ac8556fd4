"""Google Analytics 4's Measurement Protocol, as the real one behaves.

`POST /mp/collect?measurement_id=…&api_secret=…` answers 204 whatever it is sent: hits that
break a rule, or name a property and secret that do not belong together, are dropped without
a word, as Google drops them. `POST /debug/mp/collect` stores nothing and answers the
validation messages instead (`{"validationMessages": [{"fieldPath", "description",
"validationCode"}]}`). The rules are the documented ones: at most 25 events a request and 25
parameters an event, names of at most 40 letters, digits and underscores starting with a
letter, reserved event names and prefixes refused, string values of at most 100 characters
(page_location 1,000, page_referrer 420, page_title 300), timestamps no more than 72 hours
old. `GET /_sandbox/ga4/events?measurement_id=` shows what arrived; properties are made with
`POST /_sandbox/ga4/properties`.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from sandbox.core import sandbox_of
from sandbox.http import json, json_body
from sandbox.state import Ga4

router = APIRouter(prefix="/_sandbox/ga4", tags=["sandbox: ga4"])

MAX_EVENTS = 25
MAX_PARAMS = 25
MAX_NAME = 40
MAX_VALUE = 100
LONG_VALUES = {"page_location": 1000, "page_referrer": 420, "page_title": 300}
MAX_AGE_SECONDS = 72 * 3600
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED_EVENTS = frozenset(
    {
        "ad_activeview",
        "ad_click",
        "ad_exposure",
        "ad_impression",
        "ad_query",
        "ad_reward",
        "adunit_exposure",
        "app_background",
        "app_clear_data",
        "app_exception",
        "app_remove",
        "app_store_refund",
        "app_store_subscription_cancel",
        "app_store_subscription_convert",
        "app_store_subscription_renew",
        "app_uninstall",
        "app_update",
        "app_upgrade",
        "dynamic_link_app_open",
        "dynamic_link_app_update",
        "dynamic_link_first_open",
        "error",
        "first_open",
        "first_visit",
        "in_app_purchase",
        "notification_dismiss",
        "notification_foreground",
        "notification_open",
        "notification_receive",
        "os_update",
        "session_start",
        "session_start_with_rollout",
        "user_engagement",
    }
)
RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")


def ga4_of(request: Request) -> Ga4:
    return sandbox_of(request).ga4


def _message(path: str, description: str, code: str) -> dict[str, str]:
    return {"fieldPath": path, "description": description, "validationCode": code}


def _name_problems(path: str, name: Any, *, event: bool) -> list[dict[str, str]]:
    kind = "Event" if event else "Parameter"
    if not isinstance(name, str) or not name:
        return [_message(path, f"{kind} name is required.", "VALUE_REQUIRED")]
    if len(name) > MAX_NAME:
        return [
            _message(
                path, f"{kind} name {name!r} is longer than {MAX_NAME} characters.", "NAME_INVALID"
            )
        ]
    if name.startswith(RESERVED_PREFIXES) or (event and name in RESERVED_EVENTS):
        return [_message(path, f"{kind} name {name!r} is reserved.", "NAME_RESERVED")]
    if not NAME.match(name):
        return [
            _message(
                path,
                f"{kind} name {name!r} may only contain letters, digits and "
                "underscores, and must start with a letter.",
                "NAME_INVALID",
            )
        ]
    return []


def _param_problems(path: str, params: Any) -> list[dict[str, str]]:
    if params is None:
        return []
    if not isinstance(params, dict):
        return [_message(path, "params must be an object.", "VALUE_INVALID")]
    if len(params) > MAX_PARAMS:
        return [
            _message(
                path, f"An event has at most {MAX_PARAMS} parameters.", "EXCEEDED_MAX_ENTITIES"
            )
        ]
    problems = []
    for key, value in params.items():
        where = f"{path}.{key}"
        problems += _name_problems(where, key, event=False)
        limit = LONG_VALUES.get(key, MAX_VALUE)
        if isinstance(value, str) and len(value) > limit:
            problems.append(
                _message(where, f"Value is longer than {limit} characters.", "VALUE_INVALID")
            )
        elif not isinstance(value, str | int | float | list) or isinstance(value, bool):
            problems.append(_message(where, "Value must be a string or a number.", "VALUE_INVALID"))
    return problems


def validate(
    state: Ga4, *, measurement_id: str | None, api_secret: str | None, body: Any, now: float
) -> list[dict[str, str]]:
    if not measurement_id:
        return [_message("measurement_id", "measurement_id is required.", "VALUE_REQUIRED")]
    if api_secret not in state.properties.get(measurement_id, set()):
        return [
            _message(
                "api_secret",
                "The API secret does not belong to this measurement id.",
                "VALUE_INVALID",
            )
        ]
    if not isinstance(body, dict):
        return [_message("", "The body must be a JSON object.", "VALUE_INVALID")]
    problems = []
    if not body.get("client_id") and not body.get("app_instance_id"):
        problems.append(_message("client_id", "client_id is required.", "VALUE_REQUIRED"))
    stamp = body.get("timestamp_micros")
    if stamp is not None:
        if not isinstance(stamp, int) or stamp > (now + 60) * 1e6:
            problems.append(
                _message("timestamp_micros", "Timestamp is not valid.", "VALUE_INVALID")
            )
        elif stamp < (now - MAX_AGE_SECONDS) * 1e6:
            problems.append(
                _message(
                    "timestamp_micros",
                    "Timestamp is more than 72 hours in the past.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            )
    events = body.get("events")
    if not isinstance(events, list) or not events:
        return [*problems, _message("events", "At least one event is required.", "VALUE_REQUIRED")]
    if len(events) > MAX_EVENTS:
        return [
            *problems,
            _message(
                "events", f"A request has at most {MAX_EVENTS} events.", "EXCEEDED_MAX_ENTITIES"
            ),
        ]
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            problems.append(_message(f"events[{i}]", "An event is an object.", "VALUE_INVALID"))
            continue
        problems += _name_problems(f"events[{i}].name", event.get("name"), event=True)
        problems += _param_problems(f"events[{i}].params", event.get("params"))
    return problems


async def _body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, "The body is not JSON.") from exc


@router.post("/mp/collect", status_code=204)
async def collect(request: Request) -> Response:
    state = ga4_of(request)
    q = request.query_params
    body = await _body(request)
    now = time.time()
    if not validate(
        state,
        measurement_id=q.get("measurement_id"),
        api_secret=q.get("api_secret"),
        body=body,
        now=now,
    ):
        stored = state.events.setdefault(q["measurement_id"], [])
        for event in body["events"]:
            stored.append(
                {
                    "client_id": body.get("client_id"),
                    "user_id": body.get("user_id"),
                    "timestamp_micros": body.get("timestamp_micros") or int(now * 1e6),
                    "name": event["name"],
                    "params": event.get("params") or {},
                    "received_at": now,
                }
            )
    return Response(status_code=204)


@router.post("/debug/mp/collect")
async def debug_collect(request: Request) -> Response:
    q = request.query_params
    messages = validate(
        ga4_of(request),
        measurement_id=q.get("measurement_id"),
        api_secret=q.get("api_secret"),
        body=await _body(request),
        now=time.time(),
    )
    return json({"validationMessages": messages})


@router.post("/properties", status_code=201)
async def new_property(request: Request) -> Response:
    """A GA4 property with a web data stream and one Measurement Protocol API secret."""
    await json_body(request)
    state = ga4_of(request)
    measurement_id = "G-" + "".join(
        secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(10)
    )
    api_secret = secrets.token_urlsafe(16)
    state.properties[measurement_id] = {api_secret}
    return json({"measurement_id": measurement_id, "api_secret": api_secret}, 201)


@router.get("/events")
async def events(request: Request, measurement_id: str) -> Response:
    return json({"items": ga4_of(request).events.get(measurement_id, [])})
