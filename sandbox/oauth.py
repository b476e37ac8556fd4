"""OAuth 2 authorization-code flow shared by the networks; each network shapes its own answers."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sandbox.core import Sandbox, sandbox_of
from sandbox.state import Account, Token

CODE_TTL = 600


class OAuthFailure(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description


def authorize_router(network: str, *, require_pkce: bool) -> APIRouter:
    router = APIRouter()

    @router.get("/oauth/authorize", include_in_schema=False)
    async def authorize(request: Request) -> Response:
        sb = sandbox_of(request)
        q = request.query_params
        app = sb.state.apps[network]
        client_id = q.get("client_id") or q.get("client_key") or ""
        redirect_uri = q.get("redirect_uri") or ""
        if client_id != app.client_id or not redirect_uri:
            # Real providers show an error page rather than redirecting to an unverified URI.
            return HTMLResponse("<h1>Invalid client_id or redirect_uri</h1>", status_code=400)
        params: dict[str, str] = {}
        if q.get("state") is not None:
            params["state"] = q["state"]
        challenge = q.get("code_challenge")
        method = q.get("code_challenge_method", "plain")
        if require_pkce and not challenge:
            params.update(error="invalid_request", error_description="code_challenge required")
            return _redirect(redirect_uri, params)
        if challenge and method not in ("S256", "plain"):
            params.update(error="invalid_request",
                          error_description="unsupported code_challenge_method")
            return _redirect(redirect_uri, params)
        account = _account_for(sb, network, q.get("account") or q.get("login_hint"))
        code = secrets.token_urlsafe(24)
        sb.state.oauth_codes[code] = {
            "network": network,
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "challenge": challenge,
            "method": method,
            "scope": q.get("scope", ""),
            "account_id": account.id,
            "expires_at": time.time() + CODE_TTL,
        }
        params["code"] = code
        return _redirect(redirect_uri, params)

    return router


def _redirect(uri: str, params: dict[str, str]) -> RedirectResponse:
    sep = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{sep}{urlencode(params)}", status_code=302)


def _account_for(sb: Sandbox, network: str, ref: str | None) -> Account:
    if ref:
        found = sb.state.find_account(network, ref)
        if found is not None:
            return found
    account: Account = sb.networks[network].make_account(sb, ref)
    return account


def client_credentials(request: Request, form: dict[str, Any]) -> tuple[str, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            raw = base64.b64decode(header[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            raw = ":"
        cid, _, secret = raw.partition(":")
        return cid, secret
    cid = form.get("client_id") or form.get("client_key") or ""
    return str(cid), form.get("client_secret")


def check_client(sb: Sandbox, network: str, client_id: str, secret: str | None) -> None:
    app = sb.state.apps[network]
    if client_id != app.client_id or (secret is not None and secret != app.client_secret):
        raise OAuthFailure("invalid_client", "Client authentication failed")


def redeem_code(
    sb: Sandbox,
    network: str,
    *,
    code: str,
    client_id: str,
    redirect_uri: str | None,
    verifier: str | None,
) -> tuple[Account, str]:
    grant = sb.state.oauth_codes.pop(code, None)
    if grant is None or grant["network"] != network or grant["expires_at"] < time.time():
        raise OAuthFailure("invalid_grant", "Authorization code is invalid or expired")
    if grant["client_id"] != client_id:
        raise OAuthFailure("invalid_grant", "Authorization code was issued to another client")
    if redirect_uri is not None and redirect_uri != grant["redirect_uri"]:
        raise OAuthFailure("invalid_grant", "redirect_uri does not match")
    challenge = grant["challenge"]
    if challenge:
        if not verifier:
            raise OAuthFailure("invalid_request", "code_verifier required")
        if grant["method"] == "S256":
            computed = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()
            ).decode().rstrip("=")
        else:
            computed = verifier
        if computed != challenge:
            raise OAuthFailure("invalid_grant", "code_verifier does not match code_challenge")
    account = sb.state.accounts[network].get(grant["account_id"])
    if account is None:
        raise OAuthFailure("invalid_grant", "Account no longer exists")
    return account, grant["scope"]


def use_refresh(sb: Sandbox, network: str, value: str, *, rotate: bool) -> Token:
    tok = sb.state.tokens.get(value)
    if (
        tok is None
        or tok.network != network
        or tok.kind != "refresh"
        or tok.revoked
        or tok.expired(time.time())
    ):
        raise OAuthFailure("invalid_grant", "Refresh token is invalid or expired")
    if rotate:
        tok.revoked = True
    return tok
