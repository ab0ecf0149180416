"""The upstream encoder writes only valid HTTP/1.1 request heads (no sockets)."""

from __future__ import annotations

import pytest

from otel_agents.gateway._client import encode_head
from otel_agents.gateway._errors import InvalidRequestHeadError


def test_a_valid_head_is_written_as_given() -> None:
    head = encode_head("GET", "/a?b=1", [(b"host", b"up:80"), (b"x-empty", b""), (b"x", b"\t1")])

    assert head == b"GET /a?b=1 HTTP/1.1\r\nhost: up:80\r\nx-empty: \r\nx: \t1\r\n\r\n"


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("GET", "/", [(b"x", b"a\r\nx-injected: 1")]),  # a well-formed head, one line longer
        ("GET", "/", [(b"x", b"a\r\n\r\nDELETE /users/42 HTTP/1.1")]),
        ("GET", "/", [(b"x", b"a\rb")]),
        ("GET", "/", [(b"x", b"a\nb")]),
        ("GET", "/", [(b"x", b"a\0b")]),
        ("GET", "/", [(b"transfer-encoding ", b"chunked")]),  # whitespace before the colon
        ("GET", "/", [(b"x y", b"1")]),
        ("GET", "/", [(b"", b"1")]),
        ("GET", "/", [(b"x\r\ny", b"1")]),
        ("GET", "/a b", []),
        ("GET", "/a\r\nx: 1", []),
        ("GET", "/\u674e", []),  # not latin-1
        ("GET", "", []),
        ("GE T", "/", []),
    ],
)
def test_an_invalid_head_is_refused_without_showing_it(
    method: str, target: str, headers: list[tuple[bytes, bytes]]
) -> None:
    with pytest.raises(InvalidRequestHeadError) as caught:
        encode_head(method, target, headers)

    assert isinstance(caught.value, ValueError)
    assert "injected" not in str(caught.value)
    assert "DELETE" not in str(caught.value)
