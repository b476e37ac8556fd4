"""Each network's error bodies and rate-limit headers, in one place so a wrong guess is easy to fix.

The faults middleware uses these for injected failures; the network modules use them for auth
errors so an expired token reads exactly like the real one.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from sandbox.http import NetError

META = ("facebook", "instagram", "threads")


def fbtrace() -> str:
    return secrets.token_urlsafe(8)


def graph_error(
    message: str,
    code: int,
    *,
    status: int = 400,
    type_: str = "OAuthException",
    subcode: int | None = None,
    headers: dict[str, str] | None = None,
) -> NetError:
    err: dict[str, Any] = {"message": message, "type": type_, "code": code, "fbtrace_id": fbtrace()}
    if subcode is not None:
        err["error_subcode"] = subcode
    return NetError(status, {"error": err}, headers)


def x_problem(status: int, title: str, detail: str, type_: str = "about:blank") -> NetError:
    return NetError(status, {"title": title, "detail": detail, "type": type_, "status": status})


def x_invalid(message: str) -> NetError:
    return NetError(
        400,
        {
            "errors": [{"message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )


def mastodon_error(status: int, message: str) -> NetError:
    return NetError(status, {"error": message})


def bluesky_error(status: int, error: str, message: str) -> NetError:
    return NetError(status, {"error": error, "message": message})


def linkedin_error(status: int, code: str, message: str, service_code: int = 100) -> NetError:
    return NetError(
        status,
        {"status": status, "serviceErrorCode": service_code, "code": code, "message": message},
    )


def tiktok_error(status: int, code: str, message: str) -> NetError:
    return NetError(
        status,
        {"data": {}, "error": {"code": code, "message": message, "log_id": secrets.token_hex(16)}},
    )


def google_error(status: int, reason: str, message: str, gstatus: str = "") -> NetError:
    statuses = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
    domain = "youtube.quota" if reason == "quotaExceeded" else "global"
    return NetError(
        status,
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
                "status": gstatus or statuses.get(status, "UNKNOWN"),
            }
        },
    )


def token_error(network: str, *, expired: bool) -> NetError:
    """What each network answers for an expired (or unknown) access token."""
    if network in META:
        if expired:
            return graph_error(
                "Error validating access token: Session has expired.", 190, subcode=463,
                headers={"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token" '
                         '"Error validating access token"'},
            )
        return graph_error("Invalid OAuth access token - Cannot parse access token", 190)
    if network == "x":
        return x_problem(401, "Unauthorized", "Unauthorized")
    if network == "mastodon":
        return mastodon_error(401, "The access token is invalid")
    if network == "bluesky":
        if expired:
            return bluesky_error(400, "ExpiredToken", "Token has expired")
        return bluesky_error(401, "InvalidToken", "Token could not be verified")
    if network == "linkedin":
        if expired:
            return linkedin_error(401, "EXPIRED_ACCESS_TOKEN",
                                  "The token used in the request has expired", 65601)
        return linkedin_error(401, "INVALID_ACCESS_TOKEN",
                              "Invalid access token", 65600)
    if network == "tiktok":
        return tiktok_error(401, "access_token_invalid",
                            "The access token is invalid or not found in the request.")
    if network == "youtube":
        return google_error(
            401, "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
        )
    raise ValueError(network)


def server_error(network: str, status: int) -> NetError:
    if network in META:
        if status >= 500:
            return graph_error("An unexpected error has occurred. Please retry your request "
                               "later.", 2, status=status, type_="OAuthException")
        return graph_error("An unknown error has occurred.", 1, status=status)
    if network == "x":
        titles = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                  504: "Gateway Timeout", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
        title = titles.get(status, "Error")
        return x_problem(status, title, title)
    if network == "mastodon":
        return mastodon_error(status, "We're sorry, but something went wrong on our end."
                              if status >= 500 else "Error")
    if network == "bluesky":
        return bluesky_error(status, "InternalServerError" if status >= 500 else "InvalidRequest",
                             "Internal Server Error" if status >= 500 else "Invalid request")
    if network == "linkedin":
        return linkedin_error(status, "INTERNAL_SERVER_ERROR" if status >= 500 else "BAD_REQUEST",
                              "Internal Server Error" if status >= 500 else "Bad request")
    if network == "tiktok":
        return tiktok_error(status, "internal_error" if status >= 500 else "invalid_params",
                            "Something went wrong. Please try again later.")
    if network == "youtube":
        return google_error(status, "backendError" if status >= 500 else "badRequest",
                            "Backend Error" if status >= 500 else "Bad Request")
    return NetError(status, {"error": "sandbox fault", "status": status})


def rate_limited(
    network: str, limit: int, reset_at: float, status: int | None = None
) -> NetError:
    """The network's "slow down" answer, headers included, for an exhausted window."""
    retry = max(1, int(reset_at - time.time() + 0.999))
    headers = rate_headers(network, limit, 0, reset_at)
    if network in META:
        err = graph_error("(#4) Application request limit reached", 4, status=status or 400,
                          type_="OAuthException", headers=headers)
        err.body["error"]["is_transient"] = True
        return err
    if network == "x":
        err = x_problem(status or 429, "Too Many Requests", "Too Many Requests")
        err.headers = headers
        return err
    if network == "mastodon":
        err = mastodon_error(status or 429, "Too many requests")
    elif network == "bluesky":
        err = bluesky_error(status or 429, "RateLimitExceeded", "Rate Limit Exceeded")
    elif network == "linkedin":
        err = linkedin_error(status or 429, "TOO_MANY_REQUESTS",
                             "Resource level throttle limit for calls to this resource is reached.")
    elif network == "tiktok":
        err = tiktok_error(status or 429, "rate_limit_exceeded",
                           "API rate limit was exceeded. Please try again later.")
    elif network == "youtube" and status == 429:
        # A burst limit, not the daily quota (which Google answers with 403 quotaExceeded).
        err = google_error(429, "rateLimitExceeded",
                           "The request cannot be completed because you have exceeded your "
                           "rate limit.")
    elif network == "youtube":
        err = google_error(status or 403, "quotaExceeded",
                           "The request cannot be completed because you have exceeded your "
                           "<a href=\"/youtube/v3/getting-started#quota\">quota</a>.")
    else:
        err = NetError(status or 429, {"error": "rate limited"})
    err.headers = headers
    if network in ("linkedin", "tiktok"):
        err.headers["Retry-After"] = str(retry)
    return err


def rate_headers(network: str, limit: int, remaining: int, reset_at: float) -> dict[str, str]:
    remaining = max(0, remaining)
    if network == "x":
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(reset_at)),
        }
    if network == "mastodon":
        reset = datetime.fromtimestamp(reset_at, UTC).isoformat(timespec="milliseconds")
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": reset.replace("+00:00", "Z"),
        }
    if network == "bluesky":
        window = max(1, int(reset_at - time.time() + 0.999))
        return {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(int(reset_at)),
            "RateLimit-Policy": f"{limit};w={window}",
        }
    if network in META:
        pct = 100 if remaining == 0 else int(100 * (limit - remaining) / max(1, limit))
        minutes = max(0, int((reset_at - time.time()) / 60 + 0.999)) if remaining == 0 else 0
        usage = f'{{"call_count":{pct},"total_cputime":{pct // 2},"total_time":{pct // 2}}}'
        headers = {"X-App-Usage": usage}
        if remaining == 0:
            headers["X-Business-Use-Case-Usage"] = (
                f'{{"0":[{{"type":"pages","call_count":{pct},"total_cputime":{pct // 2},'
                f'"total_time":{pct // 2},"estimated_time_to_regain_access":{minutes}}}]}}'
            )
        return headers
    return {}
