"""Headers on the wire: repeated lines, Via, one Date, and W3C trace context forwarded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _http
import pytest
from opentelemetry import trace
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otel_agents.gateway import APIGateway, GatewayRequest, GatewayResponse

from .conftest import ThreadServer, UpstreamState

pytestmark = pytest.mark.integration

_VALID_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def cookie_upstream() -> Iterator[ThreadServer]:
    """An upstream answering with two Set-Cookie lines (and uvicorn's own Date)."""

    async def cookies(request: Request) -> Response:
        response = Response(b"ok")
        response.raw_headers.append((b"set-cookie", b"a=1; Path=/"))
        response.raw_headers.append((b"set-cookie", b"b=2; Path=/"))
        return response

    server = ThreadServer(Starlette(routes=[Route("/cookies", cookies)])).start()
    yield server
    server.stop()


def test_repeated_response_headers_survive_an_after_response_hook(
    make_gateway: Any, cookie_upstream: ThreadServer
) -> None:
    seen: list[list[str]] = []

    class Hook:
        def after_response(self, request: GatewayRequest, response: GatewayResponse) -> None:
            seen.append(response.headers.getlist("set-cookie"))
            response.headers["x-hooked"] = "yes"

    gateway = make_gateway()
    gateway.register_service("c", "C", "v1", cookie_upstream.url)
    gateway.add_middleware(Hook())
    url = make_gateway.serve(gateway).url

    response = _http.get(f"{url}/v1/cookies")
    in_process = gateway.route_request("GET", "/v1/cookies")

    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert response.headers["x-hooked"] == "yes"
    assert in_process.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert in_process.to_dict()["headers"]["set-cookie"] == ["a=1; Path=/", "b=2; Path=/"]
    assert seen == [["a=1; Path=/", "b=2; Path=/"]] * 2


def test_request_hooks_see_every_line_of_a_repeated_request_header(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    seen: list[list[str]] = []
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    gateway.add_middleware(lambda request: seen.append(request.headers.getlist("x-tag")))
    url = make_gateway.serve(gateway).url

    _http.get(f"{url}/v1/users/1", headers=[("x-tag", "one"), ("x-tag", "two")])
    gateway.route_request("GET", "/v1/users/1", [("x-tag", "one"), ("x-tag", "two")])

    assert seen == [["one", "two"]] * 2


_CLIENT_SET = {
    "x-forwarded-port": "443",
    "x-forwarded-prefix": "/evil",
    "x-forwarded-server": "evil",
    "x-forwarded-ssl": "on",
    "forwarded": "for=6.6.6.6;proto=https",
    "x-real-ip": "6.6.6.6",
    "true-client-ip": "6.6.6.6",
    "x-client-ip": "6.6.6.6",
    "cf-connecting-ip": "6.6.6.6",
    "fastly-client-ip": "6.6.6.6",
    "x-cluster-client-ip": "6.6.6.6",
}


@pytest.mark.parametrize("trusted", [False, True], ids=["untrusted-peer", "trusted-proxy"])
def test_forwarding_and_client_address_headers_pass_only_from_trusted_proxies(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState, trusted: bool
) -> None:
    """An upstream must not take a client's word for its address, port, prefix or host."""
    gateway = make_gateway({"trusted_proxies": ["127.0.0.0/8"] if trusted else []})
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url
    sent = _CLIENT_SET | {"x-forwarded-host": "evil.example", "x-forwarded-proto": "https"}
    assert _http.get(f"{url}/v1/users/1", headers=sent).status_code == 200

    passed = {name: upstream_state.header(name) for name in _CLIENT_SET}
    if trusted:  # as before: a trusted proxy's headers are its own
        assert passed == _CLIENT_SET
        assert upstream_state.header("x-forwarded-host") == "evil.example"
        assert upstream_state.header("x-forwarded-proto") == "https"
    else:
        assert passed == dict.fromkeys(_CLIENT_SET)
        assert upstream_state.header("x-forwarded-host") == url.removeprefix("http://")
        assert upstream_state.header("x-forwarded-proto") == "http"
    assert upstream_state.header("x-forwarded-for") == "127.0.0.1"


def test_proxied_responses_carry_one_date_and_via_both_ways(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    response = _http.get(f"{url}/v1/users/1", headers={"via": "1.1 edge"})

    assert len(response.headers.get_list("date")) == 1
    assert response.headers.get_list("via") == ["1.1 otel-agents-gateway"]
    assert [v for n, v in upstream_state.requests[-1]["headers"] if n == b"via"] == [
        b"1.1 edge",
        b"1.1 otel-agents-gateway",
    ]


@pytest.mark.parametrize(
    ("incoming", "expected_state"),
    [
        ({"traceparent": "00-garbage-01", "tracestate": "vendor=x"}, None),
        ({"tracestate": "vendor=x"}, None),
        ({"traceparent": _VALID_PARENT, "tracestate": "vendor=x"}, "vendor=x"),
        (
            {
                "traceparent": _VALID_PARENT,
                "tracestate": ",".join(f"k{i}=" + "v" * 40 for i in range(20)),
            },
            None,
        ),
        ({"traceparent": _VALID_PARENT, "tracestate": "Bad Key=x y"}, None),
    ],
    ids=["invalid-parent", "no-parent", "valid", "over-long", "malformed"],
)
@pytest.mark.parametrize("instrument", [True, False], ids=["telemetry", "no-telemetry"])
def test_the_callers_tracestate_is_forwarded_only_when_valid_with_a_valid_traceparent(
    make_gateway: Any,
    upstream: ThreadServer,
    upstream_state: UpstreamState,
    incoming: dict[str, str],
    expected_state: str | None,
    instrument: bool,
    request: pytest.FixtureRequest,
) -> None:
    if instrument:
        gateway = make_gateway()
    else:  # telemetry off, as with ``otel-agents gateway --no-telemetry``: nothing injected
        gateway = APIGateway(None, tracer_provider=trace.NoOpTracerProvider(), instrument=False)
        request.addfinalizer(gateway.close)
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url

    assert _http.get(f"{url}/v1/users/1", headers=incoming).status_code == 200

    sent = upstream_state.requests[-1]["headers"]
    states = [v.decode() for n, v in sent if n == b"tracestate"]
    parents = [v.decode() for n, v in sent if n == b"traceparent"]
    assert states == ([expected_state] if expected_state else [])
    if instrument:
        assert len(parents) == 1  # the gateway's CLIENT span
    else:
        valid = incoming.get("traceparent") == _VALID_PARENT
        assert parents == ([_VALID_PARENT] if valid else [])


def test_traceparent_validation_follows_the_w3c_grammar() -> None:
    from otel_agents.gateway._tracecontext import valid_traceparent, valid_tracestate

    assert valid_traceparent(_VALID_PARENT.encode())
    assert valid_traceparent(b"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future")
    for bad in (
        b"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # forbidden version
        b"00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace id
        b"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # zero parent id
        b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",  # extra for 00
        b"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  # upper case
    ):
        assert not valid_traceparent(bad), bad
    assert valid_tracestate(b"a=1, tenant@sys=x,,b=2")
    assert not valid_tracestate(b"a=1,a=2")  # a key twice
    assert not valid_tracestate(b",".join(b"k%d=v" % i for i in range(33)))  # > 32 members
