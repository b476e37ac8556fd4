"""The sandbox object every route reaches through ``request.app.state.sandbox``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import Request

from sandbox import errors
from sandbox.faults import Faults
from sandbox.settings import SandboxSettings
from sandbox.state import Account, Ga4, State, Token
from sandbox.webhooks import Deliveries

if TYPE_CHECKING:
    from types import ModuleType


class Sandbox:
    def __init__(
        self,
        settings: SandboxSettings,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.state = State(settings)
        self.faults = Faults(settings)
        self.deliveries = Deliveries(settings, self.state, webhook_transport)
        self.networks: dict[str, ModuleType] = {}
        self.ga4 = Ga4()

    def base_url(self, network: str) -> str:
        return f"{self.settings.public_url.rstrip('/')}/{network}"

    def token(self, network: str, value: str | None) -> Token:
        if not value:
            raise errors.token_error(network, expired=False)
        tok = self.state.tokens.get(value)
        if tok is None or tok.network != network or tok.kind != "access" or tok.revoked:
            raise errors.token_error(network, expired=False)
        if tok.expired(time.time()):
            raise errors.token_error(network, expired=True)
        return tok

    def authenticate(self, network: str, value: str | None) -> Account:
        tok = self.token(network, value)
        account = self.state.accounts[network].get(tok.account_id)
        if account is None:
            raise errors.token_error(network, expired=False)
        return account

    def new_account(
        self, network: str, name: str | None, expires_in: float | None = None
    ) -> dict[str, Any]:
        module = self.networks[network]
        account: Account = module.make_account(self, name)
        credentials = module.credentials(self, account)
        token = self.state.tokens.get(str(credentials.get("access_token", "")))
        if expires_in is not None and token is not None and token.expires_at is not None:
            # An access token nearer its end than the network's usual lifetime; the refresh
            # token (where the network has one) is untouched, so it renews as usual.
            token.expires_at = time.time() + expires_in
            credentials["expires_at"] = int(token.expires_at)
        return {
            "external_id": module.external_id(account),
            "name": account.name,
            "username": account.username,
            "credentials": credentials,
        }


def sandbox_of(request: Request) -> Sandbox:
    sb: Sandbox = request.app.state.sandbox
    return sb
