"""Upstream responses with ambiguous framing, through a real gateway (item 6 of issue 10).

A raw-socket upstream answers with framing that two HTTP parsers could read differently;
the gateway must answer ``502`` and close that upstream connection instead of reading a
length of its own and putting the connection back in the pool (a response desync).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _http
import pytest

from .conftest import wait_until
from .rawserver import RawUpstream

pytestmark = pytest.mark.integration

_GOOD = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood"


@pytest.fixture
def raw_upstream() -> Iterator[list[RawUpstream]]:
    started: list[RawUpstream] = []
    yield started
    for server in started:
        server.stop()


@pytest.mark.parametrize(
    "bad",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\n0123456789",
        b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 45\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 45\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ],
    ids=["cl-underscore", "cl-plus", "cl-conflict", "te-and-cl", "te-xchunked"],
)
def test_ambiguous_framing_is_a_502_and_the_connection_is_not_reused(
    make_gateway: Any, raw_upstream: list[RawUpstream], bad: bytes
) -> None:
    answers = iter([bad])
    upstream = RawUpstream(lambda head: next(answers, _GOOD))
    raw_upstream.append(upstream)
    gateway = make_gateway({"request_timeout": 5})
    gateway.register_service("raw", "Raw", "v1", upstream.url)
    url = make_gateway.serve(gateway).url

    with _http.Client() as client:
        first = client.get(f"{url}/v1/a")
        second = client.get(f"{url}/v1/b")

    assert first.status_code == 502
    assert first.headers["content-type"] == "application/problem+json"
    assert (second.status_code, second.content) == (200, b"good")
    # The bad answer's connection was closed by the gateway; the next request used a new one.
    wait_until(lambda: upstream.connections[0].done.is_set())
    assert upstream.connections[0].closed_by_peer
    assert bytes(upstream.connections[0].received).count(b"\r\n\r\n") == 1
