"""A request lost on a reused upstream connection is sent again only if it is idempotent.

The upstream reads a whole request on a pooled keep-alive connection, then closes it
without answering (it crashed, restarted, or its idle timeout raced the request). A GET or
PUT may go out again on a new connection; a POST or PATCH may already have been executed,
and RFC 9112 §9.3.1 forbids a proxy to retry it: the client gets a 502.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import _http
import pytest

from otel_agents.gateway import UpstreamConnectError
from otel_agents.gateway._client import UpstreamClient, encode_head

from .rawserver import DroppingUpstream

pytestmark = pytest.mark.integration


@pytest.fixture
def dropping() -> Iterator[DroppingUpstream]:
    upstream = DroppingUpstream()
    yield upstream
    upstream.stop()


@pytest.mark.parametrize(
    ("method", "sent", "status"),
    [("POST", 1, 502), ("PATCH", 1, 502), ("GET", 2, 200), ("PUT", 2, 200), ("DELETE", 2, 200)],
)
def test_only_idempotent_requests_are_retried_on_a_connection_the_upstream_dropped(
    make_gateway: Any, dropping: DroppingUpstream, method: str, sent: int, status: int
) -> None:
    gateway = make_gateway({"request_timeout": 5})
    gateway.register_service("pay", "Pay", "v1", dropping.url)
    url = make_gateway.serve(gateway).url

    with _http.Client(base_url=url, timeout=10) as client:
        first = client.get("/v1/balance")  # leaves a pooled keep-alive connection
        second = client.request(method, "/v1/charge", content=b"amount=10")

    assert first.status_code == 200
    assert second.status_code == status
    assert dropping.times_seen(f"{method} /charge ") == sent
    assert [body for _, line, body in dropping.seen if "/charge" in line] == [b"amount=10"] * sent
    if sent == 2:  # once on the dropped connection, then once on a new one
        assert [n for n, line, _ in dropping.seen if "/charge" in line] == [1, 2]


def test_the_client_never_sends_a_post_twice_after_a_dropped_connection(
    dropping: DroppingUpstream,
) -> None:
    """The client alone, without the gateway: the POST fails, executed once."""
    client = UpstreamClient(connect_timeout=5, read_timeout=5)

    async def scenario() -> BaseException | None:
        head = encode_head("GET", "/balance", [(b"host", b"pay")])
        await client.request("127.0.0.1", dropping.port, head, b"")
        post = encode_head("POST", "/charge", [(b"host", b"pay"), (b"content-length", b"9")])
        try:
            await client.request("127.0.0.1", dropping.port, post, b"amount=10", method=b"POST")
        except UpstreamConnectError as exc:
            return exc
        finally:
            await client.aclose()
        return None

    error = asyncio.run(scenario())

    assert isinstance(error, UpstreamConnectError)
    assert dropping.times_seen("POST /charge ") == 1
