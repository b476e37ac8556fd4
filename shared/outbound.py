"""The one way to fetch a URL that a client gave us (media, webhook endpoints, Mastodon
instances): public addresses only.

A client-given URL is the classic way to make a server read its own network (the cloud
metadata address, a database's HTTP port, the services behind the gateway) and hand the
answer back. So every such fetch goes through a client built here:

- the scheme is https, or http too in development and test;
- the host is resolved once, every address it resolves to must be public (no loopback,
  private, link-local, multicast, CGNAT, reserved or unspecified address, in IPv4 or IPv6,
  nor an IPv4 address wrapped in IPv6), and the connection goes to that vetted address, so
  a second lookup cannot answer differently; TLS still names the host (SNI and the
  certificate check) and so does the Host header;
- every redirect hop is a new request through the same checks;
- the answer is streamed and cut at a byte cap, and the whole exchange (redirects
  included) has one deadline.

Development needs local targets (the sandbox, a test's receiver): the `host:port` pairs in
`outbound_allow` (HERALD_OUTBOUND_ALLOW) are let through there, and nothing else private.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

DEVELOPMENT_ENVIRONMENTS = frozenset({"development", "test"})
# 64:ff9b::/96 turns an IPv4 address into IPv6 through a NAT64 gateway: the address it
# reaches is the IPv4 one inside.
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(Exception):
    """The URL may not be fetched; `reason` says why, in words a client can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutboundUnresolved(OutboundRefused):
    """The host has no address (now): nothing was reached."""


class OutboundTooLarge(OutboundRefused):
    pass


class OutboundTimeout(OutboundRefused):
    pass


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_public(inner)
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_unspecified
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_private
    )


def parse_allow(text: str) -> frozenset[tuple[str, int]]:
    """`host:port,host:port` (IPv6 as `[::1]:8010`) → {(host, port)}."""
    allowed = set()
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"outbound_allow: {entry!r} is not host:port")
        allowed.add((host.strip("[]").lower(), int(port)))
    return frozenset(allowed)


@dataclass(frozen=True)
class OutboundPolicy:
    allow_http: bool = False
    # (host, port) pairs reachable whatever they resolve to; development and test only.
    allowed: frozenset[tuple[str, int]] = field(default_factory=frozenset)
    max_bytes: int = 50 * 1024 * 1024
    deadline_seconds: float = 60.0
    max_redirects: int = 5

    @classmethod
    def for_environment(
        cls,
        environment: str,
        *,
        allow: str = "",
        also_allow: Iterable[str] = (),
        max_bytes: int,
        deadline_seconds: float,
        allow_http: bool | None = None,
    ) -> OutboundPolicy:
        development = environment in DEVELOPMENT_ENVIRONMENTS
        allowed = parse_allow(",".join([allow, *also_allow])) if development else frozenset()
        return cls(
            allow_http=development if allow_http is None else allow_http,
            allowed=allowed,
            max_bytes=max_bytes,
            deadline_seconds=deadline_seconds,
        )

    def is_allowed(self, host: str, port: int) -> bool:
        return (host.strip("[]").lower(), port) in self.allowed

    def check_url(self, url: str | httpx.URL) -> httpx.URL:
        """The shape of a URL: scheme, host, no credentials. Raises OutboundRefused."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise OutboundRefused(f"{str(url)[:100]!r} is not a URL.") from exc
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parsed.scheme not in schemes or not parsed.host:
            wanted = "an http(s)" if self.allow_http else "an https"
            raise OutboundRefused(f"The URL must be {wanted} URL with a host.")
        if parsed.userinfo:
            raise OutboundRefused("The URL may not carry credentials.")
        return parsed

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host:port`, every one of them vetted."""
        host = host.strip("[]")
        try:
            literal: Address | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            found = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except (OSError, UnicodeError) as exc:
                raise OutboundUnresolved(f"{host} does not resolve.") from exc
            found = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
            if not found:
                raise OutboundUnresolved(f"{host} does not resolve.")
        if self.is_allowed(host, port):
            return [str(a) for a in found]
        for address in found:
            if not is_public(address) and not self.is_allowed(str(address), port):
                raise OutboundRefused(
                    f"{host} resolves to {address}, which is not a public address."
                )
        return [str(a) for a in found]

    async def vet(self, url: str, *, unresolved_ok: bool = False) -> str:
        """Checks a URL a client registers (shape and where its host points) before it is
        stored; the same checks run again at every fetch, so a name that does not resolve
        yet may be stored (`unresolved_ok`) without opening anything."""
        parsed = self.check_url(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            await self.resolve(parsed.host, port)
        except OutboundUnresolved:
            if not unresolved_ok:
                raise
        return url


class VettingBackend(httpcore.AsyncNetworkBackend):
    """Connects only to vetted addresses: the host is resolved here, once, and the socket
    goes to the address that passed, never to a name looked up again later."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's signature)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("Unix sockets are not an outbound target.")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class VettingTransport(httpx.AsyncHTTPTransport):
    """Checks every request's URL (each redirect hop is one) and connects through the
    vetting backend. Never uses a proxy from the environment: the proxy would do the lookup."""

    def __init__(
        self, policy: OutboundPolicy, limits: httpx.Limits, verify: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(trust_env=False, limits=limits)
        self.policy = policy
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=VettingBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.check_url(request.url)
        return await super().handle_async_request(request)


def outbound_client(
    policy: OutboundPolicy,
    *,
    headers: dict[str, str] | None = None,
    timeout: httpx.Timeout | float = 30.0,
    max_connections: int = 100,
    verify: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """A client for client-given URLs. Use `fetch` for a body under the policy's byte cap and
    deadline; plain `request` calls still get the address checks. `verify`: the certificate
    authorities to trust, when not the public ones (a private CA)."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=20)
    return httpx.AsyncClient(
        transport=VettingTransport(policy, limits, verify),
        headers=headers,
        timeout=timeout,
        trust_env=False,
        follow_redirects=False,
        max_redirects=policy.max_redirects,
    )


@dataclass(frozen=True)
class Fetched:
    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str
    # True when the body was longer than the cap given to `fetch(..., truncate=True)`.
    truncated: bool = False


async def fetch(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    policy: OutboundPolicy,
    follow_redirects: bool = True,
    max_bytes: int | None = None,
    truncate: bool = False,
    deadline_seconds: float | None = None,
    **kwargs: Any,
) -> Fetched:
    """One exchange under `policy` (the one `client` was built with): streamed, at most
    `max_bytes` of body read (beyond it: OutboundTooLarge, or the first `max_bytes` with
    `truncate`), the whole of it (connect, redirects, body) within the deadline
    (OutboundTimeout). Transport failures raise httpx.HTTPError as usual."""
    cap = policy.max_bytes if max_bytes is None else max_bytes
    deadline = policy.deadline_seconds if deadline_seconds is None else deadline_seconds
    policy.check_url(url)
    try:
        async with asyncio.timeout(deadline):
            return await _exchange(
                client, method, url, cap, truncate, follow_redirects=follow_redirects, **kwargs
            )
    except TimeoutError as exc:
        raise OutboundTimeout(f"{url[:200]} did not answer within {deadline:g} s.") from exc


async def _exchange(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    cap: int,
    truncate: bool,
    **kwargs: Any,
) -> Fetched:
    async with client.stream(method, url, **kwargs) as response:
        declared = response.headers.get("content-length", "")
        if not truncate and declared.isdigit() and int(declared) > cap:
            raise OutboundTooLarge(f"{url[:200]} is larger than {cap} bytes.")
        chunks: list[bytes] = []
        size = 0
        truncated = False
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                if not truncate:
                    raise OutboundTooLarge(f"{url[:200]} is larger than {cap} bytes.")
                truncated = True
                break
        body = b"".join(chunks)[:cap]
        return Fetched(
            status_code=response.status_code,
            headers=response.headers,
            content=body,
            url=str(response.url),
            truncated=truncated,
        )


def text_excerpt(content: bytes, limit: int) -> str | None:
    """At most `limit` characters of an answer, as plain text: undecodable bytes replaced,
    control characters (NUL included, which PostgreSQL cannot store) dropped."""
    text = content.decode("utf-8", errors="replace")
    kept = "".join(ch for ch in text if ch.isprintable() or ch in " \n\t")
    return kept[:limit] or None


def allowed_targets(urls: Sequence[str | None]) -> list[str]:
    """`host:port` of each URL given (the sandbox's address, for example)."""
    found = []
    for url in urls:
        if not url:
            continue
        parsed = httpx.URL(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        found.append(f"{parsed.host}:{port}")
    return found
