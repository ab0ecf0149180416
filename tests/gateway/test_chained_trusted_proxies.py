"""Behind a chain of trusted proxies the client is the first untrusted hop from the right.

Each trusted proxy appends the address it received the request from to
``X-Forwarded-For``; the hops it added are skipped, and the nearest address no trusted
proxy vouches for is the client (the one rate limits, history and hooks see). Stopping at
the last hop would make every client behind an internal load balancer one client.
"""

from __future__ import annotations

from typing import Any

import _http
import pytest

from otel_agents.gateway._proxy import ForwardedPolicy

from .conftest import ThreadServer, UpstreamState, history_after

TRUSTED = ["127.0.0.0/8", "10.0.0.0/8"]


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        (b"203.0.113.9, 10.0.0.5", "203.0.113.9"),
        (b"203.0.113.9, 10.0.0.5, 10.1.2.3", "203.0.113.9"),
        # a client-written hop left of the first untrusted one is not believed
        (b"6.6.6.6, 203.0.113.9, 10.0.0.5", "203.0.113.9"),
        (b"203.0.113.9", "203.0.113.9"),
    ],
)
def test_trusted_hops_are_skipped_to_find_the_client(forwarded_for: bytes, client: str) -> None:
    assert ForwardedPolicy(TRUSTED).client_ip("127.0.0.1", forwarded_for) == client


def test_a_chain_of_trusted_hops_only_leaves_the_peer() -> None:
    """Nothing untrusted in the chain: the request came from inside, the peer is the client."""
    assert ForwardedPolicy(TRUSTED).client_ip("127.0.0.1", b"10.0.0.7, 10.0.0.5") == "127.0.0.1"


@pytest.mark.integration
def test_the_gateway_records_the_client_behind_two_trusted_proxies(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    gateway = make_gateway({"trusted_proxies": TRUSTED})
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    response = _http.get(f"{url}/v1/users/1", headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.5"})

    assert response.status_code == 200
    assert history_after(gateway, 1)[-1]["client_ip"] == "203.0.113.9"
    assert upstream_state.header("x-forwarded-for") == "203.0.113.9, 10.0.0.5, 127.0.0.1"
