"""An upstream answer with a NUL in a header value or an overlong chunk size is refused.

A NUL in a header value is invalid HTTP (RFC 9110 §5.5) and truncates the value in C
parsers downstream; a chunk size of more than 16 hex digits is more than any body and is
refused before ``int()`` reads it (leading zeros would otherwise hide a tiny size behind an
unbounded line). Either is a protocol error: ``502`` to the client, never relayed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _http
import httpx
import pytest

from otel_agents.gateway._errors import UpstreamProtocolError
from otel_agents.gateway._http1 import parse_chunk_size, parse_response_head

from .rawserver import RawUpstream

_NUL_VALUE = b"HTTP/1.1 200 OK\r\nX-A: b\x00c\r\nContent-Length: 4\r\n\r\ngood"
_LONG_CHUNK = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + (
    b"0" * 17 + b"4\r\ngood\r\n0\r\n\r\n"
)


def test_a_nul_in_an_upstream_header_value_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError):
        parse_response_head(b"HTTP/1.1 200 OK\r\nx-a: b\x00c\r\ncontent-length: 0\r\n\r\n")


def test_a_chunk_size_of_more_than_16_hex_digits_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError):
        parse_chunk_size(b"0" * 17 + b"4\r\n")


def test_a_chunk_size_of_16_hex_digits_is_read() -> None:
    assert parse_chunk_size(b"0" * 15 + b"4\r\n") == 4


@pytest.fixture
def raw_upstream() -> Iterator[list[RawUpstream]]:
    started: list[RawUpstream] = []
    yield started
    for server in started:
        server.stop()


@pytest.mark.integration
def test_the_gateway_answers_502_to_a_nul_in_an_upstream_header_value(
    make_gateway: Any, raw_upstream: list[RawUpstream]
) -> None:
    upstream = RawUpstream(lambda head: _NUL_VALUE)
    raw_upstream.append(upstream)
    gateway = make_gateway({"request_timeout": 5})
    gateway.register_service("raw", "Raw", "v1", upstream.url)
    url = make_gateway.serve(gateway).url

    response = _http.get(f"{url}/v1/a")

    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert b"good" not in response.content


@pytest.mark.integration
def test_an_overlong_chunk_size_never_reaches_the_client_as_a_complete_body(
    make_gateway: Any, raw_upstream: list[RawUpstream]
) -> None:
    """The head of a chunked answer is relayed before its first chunk is read, so the
    refusal cuts the relayed body (the client sees an incomplete chunked read) or, had the
    head not been sent yet, is a 502: never a complete ``200`` carrying the chunk."""
    upstream = RawUpstream(lambda head: _LONG_CHUNK)
    raw_upstream.append(upstream)
    gateway = make_gateway({"request_timeout": 5})
    gateway.register_service("raw", "Raw", "v1", upstream.url)
    url = make_gateway.serve(gateway).url

    try:
        response = _http.get(f"{url}/v1/a")
    except httpx.RemoteProtocolError:
        return  # the body was cut
    assert response.status_code == 502
    assert b"good" not in response.content
