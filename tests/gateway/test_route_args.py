"""Bad input to ``route_request`` is a typed error naming the argument, never a bare
``UnicodeEncodeError``/``AttributeError`` nor a silent substitute (no sockets: refused
before anything runs)."""

from __future__ import annotations

from typing import Any

import pytest

from otel_agents._errors import InvalidTypeError, InvalidValueError
from otel_agents.gateway._inprocess import build_scope
from otel_agents.gateway._route_args import browser_query


def _scope(**kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "method": "GET",
        "path": "/v1/users",
        "headers": None,
        "query_params": None,
        "body": None,
        "client_ip": "unknown",
        "user_agent": "unknown",
    } | kwargs
    scope, _ = build_scope(**args)
    return scope


@pytest.mark.parametrize(
    ("kwargs", "error", "starts", "says"),
    [
        (
            {"headers": {"X-User": "李"}},
            InvalidValueError,
            "headers['X-User']='<redacted>'",
            "'李' at index 0",
        ),
        (
            {"headers": [("X-User", "ok"), ("X-Name", "Zoë 李")]},
            InvalidValueError,
            "headers['X-Name']",
            "index 4",
        ),
        ({"headers": {"X User": "1"}}, InvalidValueError, "headers='X User'", "HTTP tokens"),
        ({"headers": {"X-User:": "1"}}, InvalidValueError, "headers='X-User:'", "HTTP tokens"),
        ({"headers": {7: "1"}}, InvalidTypeError, "headers=7", "names as strings"),
        (
            {"headers": {"Authorization": "Bearer s3cr3t\r\nX: 1"}},
            InvalidValueError,
            "headers['Authorization']='<redacted>'",
            "CR, LF or NUL",
        ),
        ({"user_agent": 123}, InvalidTypeError, "user_agent=123", "a User-Agent"),
        ({"user_agent": None}, InvalidTypeError, "user_agent=None", "a User-Agent"),
        ({"user_agent": "bot/李"}, InvalidValueError, "user_agent='bot/李'", "latin-1"),
        (
            {"client_ip": 3232235777},
            InvalidTypeError,
            "client_ip=3232235777",
            "the client's address",
        ),
        ({"client_ip": "李"}, InvalidValueError, "client_ip='李'", "latin-1"),
        ({"path": "/v1/users\r\nX-Injected: 1"}, InvalidValueError, "path=", "CR, LF or NUL"),
        (
            {"path": "/v1/users?token=s3cr3t\n"},
            InvalidValueError,
            "path='/v1/users?token=REDACTED",
            "CR, LF",
        ),
        ({"path": "http://李.example/v1/users"}, InvalidValueError, "path=", "IDNA"),
        ({"path": b"/v1/users"}, InvalidTypeError, "path=b'/v1/users'", "a path"),
    ],
    ids=[
        "header-not-latin1",
        "header-pair-not-latin1",
        "header-name-space",
        "header-name-colon",
        "header-name-int",
        "header-crlf",
        "ua-int",
        "ua-none",
        "ua-not-latin1",
        "ip-int",
        "ip-not-latin1",
        "path-crlf",
        "path-lf-token-masked",
        "path-host-not-ascii",
        "path-bytes",
    ],
)
def test_bad_route_request_input_names_the_argument_the_value_and_the_fix(
    kwargs: dict[str, Any], error: type[Exception], starts: str, says: str
) -> None:
    with pytest.raises(error) as caught:
        _scope(**kwargs)

    message = str(caught.value)
    assert message.startswith(starts)
    assert says in message
    assert "s3cr3t" not in message


def test_a_non_ascii_query_in_the_path_is_percent_encoded_as_a_browser_does() -> None:
    scope = _scope(path='/v1/users?name=李&q=a b&pct=100%25&sym=<"x">')

    assert scope["query_string"] == b"name=%E6%9D%8E&q=a%20b&pct=100%25&sym=%3C%22x%22%3E"


@pytest.mark.parametrize(
    "query", ["", "a=1&b=2", "page=2;limit=10", "x=%E6%9D%8E", "f=a,b:c/d?e@f!g$h'i(j)k*l+m"]
)
def test_an_ascii_query_is_kept_as_written(query: str) -> None:
    assert browser_query(query) == query


def test_good_input_still_makes_the_same_scope() -> None:
    scope = _scope(
        path="/v1/users/7",
        headers={"X-Request-Id": "abc", "X-Count": 5, "X-Note": "caf\u00e9"},
        client_ip="10.1.2.3",
        user_agent="pytest",
    )

    assert scope["client"] == ("10.1.2.3", 0)
    assert (b"x-request-id", b"abc") in scope["headers"]
    assert (b"x-count", b"5") in scope["headers"]
    assert (b"x-note", b"caf\xe9") in scope["headers"]
    assert (b"user-agent", b"pytest") in scope["headers"]
