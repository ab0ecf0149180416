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
        (
            {"headers": {"X User": "1"}},
            InvalidValueError,
            "headers='X<redacted>'",
            "HTTP tokens",
        ),
        (
            {"headers": {"X-User:": "1"}},
            InvalidValueError,
            "headers='X-User<redacted>'",
            "HTTP tokens",
        ),
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


SHAPES = [
    (
        {"headers": [["Authorization", "Bearer s3cr3t"]]},
        "headers=<redacted>",
        "entry 0 is a list of 2 items",
    ),
    (
        {"headers": [("Authorization", "Bearer s3cr3t"), ("X-Id",)]},
        "headers=<redacted>",
        "entry 1 is a tuple of 1 item,",
    ),
    ({"headers": "Authorization: Bearer s3cr3t"}, "headers=<redacted>", "got type str"),
    ({"query_params": [("api_key", "s3cr3t")]}, "query_params=<redacted>", "got type list"),
    ({"query_params": "token=s3cr3t"}, "query_params=<redacted>", "got type str"),
    (
        {"headers": {"Authorization: Bearer s3cr3t": "1"}},
        "headers='Authorization<redacted>'",
        "HTTP tokens",
    ),
]


@pytest.mark.parametrize(("kwargs", "starts", "says"), SHAPES)
def test_headers_or_query_params_of_the_wrong_shape_are_named_never_shown(
    kwargs: dict[str, Any], starts: str, says: str
) -> None:
    """The error says the type and which entry is wrong: the values carry credentials."""
    with pytest.raises((InvalidTypeError, InvalidValueError)) as caught:
        _scope(**kwargs)
    message = str(caught.value)
    assert message.startswith(starts), message
    assert says in message, message
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


@pytest.mark.parametrize(
    ("value", "kind"),
    [(b"s3cr3t", "bytes"), (None, "NoneType"), (True, "bool"), (["s3cr3t"], "list")],
)
def test_a_header_value_that_is_not_text_is_refused_never_sent_as_its_repr(
    value: object, kind: str
) -> None:
    """``{"X-API-Key": b"k1"}`` was sent as ``b'k1'`` (a 403 for a good key), None as
    ``None``."""
    with pytest.raises(InvalidTypeError) as caught:
        _scope(headers={"Authorization": "Bearer ok", "X-API-Key": value})

    message = str(caught.value)
    assert message.startswith("headers['X-API-Key']=<redacted> is not valid")
    assert f"(got type {kind})" in message
    assert "s3cr3t" not in message


def test_query_params_send_scalars_as_text_and_lists_one_pair_per_item() -> None:
    scope = _scope(
        path="/v1/users?x=1",
        query_params={"ids": [1, 2], "tags": ("a b", "李"), "n": 2.5, "on": True, "e": []},
    )

    assert scope["query_string"] == b"x=1&ids=1&ids=2&tags=a+b&tags=%E6%9D%8E&n=2.5&on=True"


@pytest.mark.parametrize(
    ("query_params", "starts", "kind"),
    [
        ({"q": None}, "query_params['q']=<redacted>", "NoneType"),
        ({"token": b"s3cr3t"}, "query_params['token']=<redacted>", "bytes"),
        ({"f": {"a": "s3cr3t"}}, "query_params['f']=<redacted>", "dict"),
        ({"ids": [1, None]}, "query_params['ids']=<redacted>", "NoneType"),
        ({"ids": [[1]]}, "query_params['ids']=<redacted>", "list"),
        ({7: "1"}, "query_params=7", "int"),
    ],
)
def test_a_query_param_that_is_not_a_scalar_or_a_list_of_them_is_refused_naming_it(
    query_params: dict[Any, Any], starts: str, kind: str
) -> None:
    """``None`` was sent as ``q=None`` and ``[1, 2]`` as ``ids=%5B1%2C+2%5D``."""
    with pytest.raises(InvalidTypeError) as caught:
        _scope(query_params=query_params)

    message = str(caught.value)
    assert message.startswith(starts)
    assert f"(got type {kind})" in message
    assert "s3cr3t" not in message


def test_route_request_refuses_a_bytes_api_key_before_anything_runs(make_gateway: Any) -> None:
    """The review's case: ``b"k1"`` was sent as ``b'k1'`` and answered 403."""
    gateway = make_gateway({"api_keys": ["k1"]})
    gateway.register_service("svc", "svc", "v1", "http://127.0.0.1:9")
    with pytest.raises(InvalidTypeError, match=r"headers\['X-API-Key'\]=<redacted>"):
        gateway.route_request("GET", "/v1/x", headers={"X-API-Key": b"k1"})
    assert gateway.get_request_history() == []  # refused at the call: nothing was routed
