"""The safe outbound fetcher against real local servers: what it refuses, what it lets
through, and that a refused target never sees a request."""

from __future__ import annotations

import ipaddress
import time

import httpx
import pytest

from shared.outbound import (
    OutboundPolicy,
    OutboundRefused,
    OutboundTimeout,
    OutboundTooLarge,
    fetch,
    is_public,
    outbound_client,
    parse_allow,
    text_excerpt,
)
from tests.security.outbound_support import PNG, running_target, running_tls_target


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "64:ff9b::808:808"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def policy(allow: str = "", **overrides: object) -> OutboundPolicy:
    values: dict[str, object] = {"allow": allow, "max_bytes": 1024, "deadline_seconds": 2.0}
    values.update(overrides)
    return OutboundPolicy.for_environment("test", **values)  # type: ignore[arg-type]


async def test_a_private_target_is_refused_before_any_request() -> None:
    async with running_target() as target:
        rules = policy()
        async with outbound_client(rules) as client:
            with pytest.raises(OutboundRefused, match="not a public address"):
                await fetch(client, "GET", target.url + "/secret.png", policy=rules)
            with pytest.raises(OutboundRefused):
                await rules.vet(target.url.replace("127.0.0.1", "localhost") + "/secret.png")
        assert target.hits == []


async def test_an_allowed_target_is_fetched_with_its_own_host_header() -> None:
    async with running_target() as target:
        port = target.url.rsplit(":", 1)[1]
        rules = policy(f"localhost:{port}")
        async with outbound_client(rules) as client:
            got = await fetch(client, "GET", f"http://localhost:{port}/secret.png", policy=rules)
        assert got.status_code == 200 and got.content == PNG
        assert target.hosts == [f"localhost:{port}"]


async def test_every_redirect_hop_is_checked() -> None:
    async with running_target() as allowed, running_target() as internal:
        rules = policy(allowed.host_port)
        async with outbound_client(rules) as client:
            with pytest.raises(OutboundRefused):
                await fetch(
                    client,
                    "GET",
                    f"{allowed.url}/redirect?to={internal.url}/secret.png",
                    policy=rules,
                )
        assert allowed.hits == ["/redirect"]
        assert internal.hits == []


async def test_the_byte_cap_stops_a_large_or_endless_answer() -> None:
    async with running_target() as target:
        rules = policy(target.host_port)
        async with outbound_client(rules) as client:
            with pytest.raises(OutboundTooLarge):
                await fetch(client, "GET", f"{target.url}/huge?size=5000", policy=rules)
            with pytest.raises(OutboundTooLarge):
                await fetch(client, "GET", f"{target.url}/endless", policy=rules)
            cut = await fetch(
                client, "GET", f"{target.url}/endless", policy=rules, truncate=True, max_bytes=10
            )
        assert cut.truncated and len(cut.content) == 10


async def test_the_deadline_covers_the_whole_exchange() -> None:
    async with running_target() as target:
        # A read timeout per chunk would never fire: a byte arrives every 0.2 s.
        rules = policy(target.host_port, deadline_seconds=1.0)
        async with outbound_client(rules, timeout=5.0) as client:
            started = time.monotonic()
            with pytest.raises(OutboundTimeout):
                await fetch(client, "GET", f"{target.url}/trickle?seconds=20", policy=rules)
        assert time.monotonic() - started < 3.0


async def test_https_only_outside_development() -> None:
    rules = OutboundPolicy.for_environment(
        "production", allow="127.0.0.1:1", max_bytes=10, deadline_seconds=1
    )
    assert rules.allowed == frozenset()
    with pytest.raises(OutboundRefused, match="https"):
        rules.check_url("http://example.com/a.png")
    with pytest.raises(OutboundRefused, match="credentials"):
        rules.check_url("https://user:pw@example.com/a.png")


def test_allow_list_shape() -> None:
    assert parse_allow("127.0.0.1:8010, [::1]:9000") == {("127.0.0.1", 8010), ("::1", 9000)}
    with pytest.raises(ValueError):
        parse_allow("127.0.0.1")


def test_excerpt_is_short_plain_text() -> None:
    assert text_excerpt(b"ok\x00\x1b[31m\xff" + b"x" * 500, 20) == "ok[31m\ufffd" + "x" * 13


async def test_https_names_the_host_while_connecting_to_the_vetted_address(tmp_path) -> None:
    # The certificate names `localhost` only. The connection goes to the address the name
    # was vetted as (127.0.0.1); TLS must still ask for and check `localhost` (SNI and the
    # certificate's name), and the Host header must carry it.
    async with running_tls_target("localhost", tmp_path) as (target, trust):
        port = int(target.url.rsplit(":", 1)[1])
        by_name = OutboundPolicy.for_environment(
            "test", allow=f"localhost:{port}", max_bytes=1024, deadline_seconds=5
        )
        async with outbound_client(by_name, verify=trust) as client:
            got = await fetch(client, "GET", f"{target.url}/secret.png", policy=by_name)
        assert got.status_code == 200 and got.content == PNG
        assert target.hosts == [f"localhost:{port}"]
        # By address the certificate does not match: the name is what TLS checks.
        by_address = OutboundPolicy.for_environment(
            "test", allow=f"127.0.0.1:{port}", max_bytes=1024, deadline_seconds=5
        )
        async with outbound_client(by_address, verify=trust) as client:
            with pytest.raises(httpx.ConnectError, match="certificate|hostname|IP address"):
                await fetch(
                    client, "GET", f"https://127.0.0.1:{port}/secret.png", policy=by_address
                )
