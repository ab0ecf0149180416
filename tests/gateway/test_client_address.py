"""The client a per-client rate limit counts: one address per client, whatever the port a
proxy wrote, and one /64 per IPv6 host."""

from __future__ import annotations

from typing import Any

import pytest

from otel_agents.gateway._errors import GatewayConfigError
from otel_agents.gateway._forwarded import ForwardedPolicy
from otel_agents.gateway._ratelimit import RateLimit, RateLimiter, client_key

from .conftest import ThreadServer

POLICY = ForwardedPolicy(["10.0.0.0/8"])


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        (b"203.0.113.7:40000", "203.0.113.7"),
        (b"[2001:db8::1]:443", "2001:db8::1"),
        (b"[2001:db8::1]", "2001:db8::1"),
        (b"2001:DB8:0::1", "2001:db8::1"),
        (b"::ffff:203.0.113.7", "203.0.113.7"),
        (b"203.0.113.9, 10.0.0.3:1234", "203.0.113.9"),  # a trusted hop with a port
        (b"198.51.100.1, 203.0.113.9:5, 10.0.0.3", "203.0.113.9"),
    ],
)
def test_each_hop_is_parsed_as_an_ip_address(forwarded_for: bytes, client: str) -> None:
    assert POLICY.client_ip("10.0.0.2", forwarded_for) == client


@pytest.mark.parametrize(
    "forwarded_for",
    [
        b"unknown",
        b"_hidden, 10.0.0.3",
        b"203.0.113.7, ",
        b"203.0.113.7:http",
        b"203.0.113.7:123456",
        b"[2001:db8::1",
        b"[2001:db8::1]x",
    ],
)
def test_a_hop_that_is_not_an_address_ends_the_walk_at_the_peer(forwarded_for: bytes) -> None:
    assert POLICY.client_ip("10.0.0.2", forwarded_for) == "10.0.0.2"


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert POLICY.client_ip("192.0.2.1", b"203.0.113.7") == "192.0.2.1"


def test_ipv6_clients_share_a_bucket_per_64_ipv4_clients_one_each() -> None:
    assert client_key("2001:db8:1:2::1", 64) == client_key("2001:db8:1:2:ffff::9", 64)
    assert client_key("2001:db8:1:2::1", 64) == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1", 64) != client_key("2001:db8:1:2::1", 64)
    assert client_key("2001:db8:1:2::1", 128) != client_key("2001:db8:1:2::2", 128)
    assert client_key("203.0.113.7", 64) == "203.0.113.7"
    assert client_key("unknown", 64) == "unknown"

    limiter = RateLimiter()
    limiter.set_limit("s", RateLimit.build(1, 2, per_client=True))
    taken = [limiter.acquire("s", f"2001:db8:1:2::{i:x}") for i in range(1, 5)]
    assert [d.allowed for d in taken if d is not None] == [True, True, False, False]
    assert limiter.client_count() == 1


def test_ipv4_clients_of_a_dual_stack_listener_get_a_bucket_each_not_one_per_64() -> None:
    """A listener bound to ``::`` reports IPv4 clients as ``::ffff:a.b.c.d``: keyed by
    their /64 they all shared the bucket ``::/64``."""
    assert client_key("::ffff:10.0.0.1", 64) == "10.0.0.1"
    assert client_key("::ffff:192.168.7.9", 64) == "192.168.7.9"
    assert client_key("::FFFF:10.0.0.1", 128) == client_key("10.0.0.1", 128)

    limiter = RateLimiter()
    limiter.set_limit("s", RateLimit.build(1, 1, per_client=True))
    taken = [limiter.acquire("s", ip) for ip in ("::ffff:10.0.0.1", "::ffff:192.168.7.9")]
    assert [d.allowed for d in taken if d is not None] == [True, True]
    assert limiter.client_count() == 2


@pytest.mark.parametrize(
    ("peer", "client"),
    [
        ("::ffff:203.0.113.7", "203.0.113.7"),  # untrusted: used as the client
        ("::ffff:10.0.0.2", "198.51.100.4"),  # a trusted proxy, recognised when mapped
        ("2001:DB8::1", "2001:db8::1"),
        ("192.0.2.1", "192.0.2.1"),
        ("unknown", "unknown"),
    ],
)
def test_the_peer_is_normalised_like_a_forwarded_hop(peer: str, client: str) -> None:
    assert POLICY.client_ip(peer, b"198.51.100.4") == client
    if peer != "::ffff:10.0.0.2":
        assert POLICY.client_ip(peer, None) == client


@pytest.mark.integration
def test_mapped_ipv4_clients_are_limited_one_by_one_through_the_gateway(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    """The review's scenario: two IPv4 clients seen as IPv4-mapped peers, burst 2."""
    gateway = make_gateway()
    gateway.register_service("svc", "svc", "v1", upstream.url, path_prefix="/users")
    gateway.set_rate_limit("svc", 60, burst_limit=2, per_client=True)
    codes = [
        gateway.route_request("GET", "/v1/users/7", client_ip=ip).status_code
        for ip in ["::ffff:10.0.0.1"] * 3 + ["::ffff:192.168.7.9"]
    ]
    assert codes == [200, 200, 429, 200]


@pytest.mark.parametrize("value", [0, 129, "sixty-four", True, 64.5])
def test_a_bad_ipv6_prefix_length_is_refused_naming_the_setting(
    make_gateway: Any, value: object
) -> None:
    with pytest.raises(GatewayConfigError, match="rate_limit_ipv6_prefix"):
        make_gateway({"rate_limit_ipv6_prefix": value})


@pytest.mark.integration
def test_per_client_limits_behind_a_proxy_that_writes_ports_and_for_one_ipv6_host(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway({"trusted_proxies": ["10.0.0.0/8"]})
    gateway.register_from_mapping(
        {
            "service_id": "s",
            "version": "v1",
            "path_prefix": "/users",
            "base_url": upstream.url,
            "rate_limit": {"requests_per_minute": 1, "burst_limit": 2, "per_client": True},
        }
    )
    rotating = [
        gateway.route_request(
            "GET",
            "/v1/users/7",
            {"x-forwarded-for": f"203.0.113.8:{40000 + i}"},
            client_ip="10.0.0.2",
        ).status_code
        for i in range(4)
    ]
    assert rotating == [200, 200, 429, 429]
    v6 = [
        gateway.route_request("GET", "/v1/users/7", client_ip=f"2001:db8:1:2::{i:x}").status_code
        for i in range(1, 5)
    ]
    assert v6 == [200, 200, 429, 429]
    assert gateway.limiter.client_count() == 2
