"""route_request runs the same pipeline as a real request."""

from __future__ import annotations

from typing import Any

import pytest

from otel_agents._errors import InvalidTypeError, InvalidValueError
from otel_agents.gateway import GatewayRequest, GatewayResponse
from otel_agents.testing import TelemetryCapture

from .conftest import ThreadServer, UpstreamState, wait_for_spans

pytestmark = pytest.mark.integration


def test_route_request_proxies_with_the_same_spans_and_history(
    make_gateway: Any,
    upstream: ThreadServer,
    upstream_state: UpstreamState,
    telemetry: TelemetryCapture,
) -> None:
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")

    response = gateway.route_request(
        "GET", "/v1/users/7", {"X-Request-Id": "abc"}, {"page": "2"}, None, "10.1.2.3", "pytest"
    )

    assert response.status_code == 200
    assert response.json() == {"id": "7", "name": "Ada"}
    assert upstream_state.header("x-request-id") == "abc"
    assert upstream_state.header("user-agent") == "pytest"
    assert upstream_state.header("x-forwarded-for") == "10.1.2.3"
    assert upstream_state.requests[-1]["query"] == "page=2"
    wait_for_spans(telemetry, "GET /v1/users/{path}")
    server = telemetry.span("GET /v1/users/{path}")
    (record,) = gateway.get_request_history()
    assert record["trace_id"] == format(server.context.trace_id, "032x")
    assert record["route"] == "/v1/users/{path}"
    assert record["client_ip"] == "10.1.2.3"
    assert record["user_agent"] == "pytest"
    assert record["status_code"] == 200
    assert record["duration"] > 0


def test_route_request_sends_json_bodies(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    gateway = make_gateway()
    gateway.register_service("misc", "Misc", "v1", upstream.url)

    response = gateway.route_request("POST", "/v1/echo", body={"a": 1})

    assert response.status_code == 200
    assert response.json() == {"a": 1}
    assert upstream_state.header("content-type") == "application/json"


def test_aroute_request_runs_on_the_callers_loop(make_gateway: Any, upstream: ThreadServer) -> None:
    import asyncio

    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")

    async def call() -> GatewayResponse:
        try:
            return await gateway.aroute_request("GET", "/v1/users/1")
        finally:
            await gateway.client.aclose()

    assert asyncio.run(call()).status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"method": "BREW"}, InvalidValueError),
        ({"path": 42}, InvalidTypeError),
        ({"headers": {"X-Bad": "a\r\nInjected: 1"}}, InvalidValueError),
        ({"body": object()}, InvalidTypeError),
    ],
)
def test_route_request_rejects_bad_arguments(
    make_gateway: Any, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    gateway = make_gateway()
    args = {"method": "GET", "path": "/v1/x"} | kwargs
    with pytest.raises(error):
        gateway.route_request(**args)
    assert gateway.get_request_history() == []


def test_hooks_run_in_order_and_may_answer_instead_of_the_upstream(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    calls: list[str] = []

    def first(request: GatewayRequest) -> None:
        calls.append(f"first:{request.service_id}:{request.route}")

    class Second:
        async def before_request(self, request: GatewayRequest) -> GatewayResponse | None:
            calls.append("second")
            if request.query_params.get("cached") == "1":
                return GatewayResponse.json_response(200, {"cached": True})
            return None

        def after_response(self, request: GatewayRequest, response: GatewayResponse) -> None:
            calls.append(f"after:{response.status_code}")
            response.headers["x-hooked"] = "yes"

    gateway.add_middleware(first)
    gateway.add_middleware(Second())

    proxied = gateway.route_request("GET", "/v1/users/1")
    cached = gateway.route_request("GET", "/v1/users/1", query_params={"cached": "1"})

    assert proxied.headers["x-hooked"] == "yes"
    assert cached.json() == {"cached": True}
    assert calls == [
        "first:users:/v1/users/{path}",
        "second",
        "after:200",
        "first:users:/v1/users/{path}",
        "second",
    ]
    assert len(upstream_state.requests) == 1


def test_a_hook_that_raises_is_a_500_problem_and_a_span_exception(
    make_gateway: Any, upstream: ThreadServer, telemetry: TelemetryCapture
) -> None:
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")

    def broken(request: GatewayRequest) -> None:
        raise RuntimeError("hook bug with secret detail")

    gateway.add_middleware(broken)
    response = gateway.route_request("GET", "/v1/users/1")
    again = gateway.route_request("GET", "/v1/users/2")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret detail" not in response.text
    assert again.status_code == 500
    wait_for_spans(telemetry, "GET /v1/users/{path}")
    span = telemetry.spans("GET /v1/users/{path}")[0]
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "RuntimeError"


def test_asgi_middleware_wraps_in_the_order_added(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")

    class Tag:
        def __init__(self, app: Any, name: str) -> None:
            self.app = app
            self.name = name

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def tagged(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-order", self.name.encode())]
                await send(message)

            await self.app(scope, receive, tagged)

    gateway.add_middleware(Tag, name="outer")
    gateway.add_middleware(Tag, name="inner")
    response = gateway.route_request("GET", "/v1/users/1")

    assert response.headers["x-order"] == "inner, outer"


def test_add_middleware_rejects_what_it_cannot_use(make_gateway: Any) -> None:
    gateway = make_gateway()
    with pytest.raises(InvalidTypeError, match="middleware="):
        gateway.add_middleware(42)


def test_route_request_reuses_one_loop_and_its_pooled_connection(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    """The blocking portal outlives each call: the second request reuses the connection."""
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")

    for _ in range(3):
        assert gateway.route_request("GET", "/v1/users/1").status_code == 200

    assert len({request["client_port"] for request in upstream_state.requests}) == 1


def test_route_request_from_a_hook_on_the_gateway_loop_is_refused(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    """A synchronous call on the loop that must serve it would wait for itself forever."""
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    raised: list[BaseException] = []

    def nested(request: GatewayRequest) -> None:
        try:
            gateway.route_request("GET", "/v1/users/2")
        except RuntimeError as exc:
            raised.append(exc)

    gateway.add_middleware(nested)
    assert gateway.route_request("GET", "/v1/users/1").status_code == 200
    (error,) = raised
    assert "aroute_request" in str(error)


def test_close_stops_the_loop_thread_and_may_be_called_twice(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    import threading

    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    assert gateway.route_request("GET", "/v1/users/1").status_code == 200
    assert any(t.name == "otel-agents-gateway" and t.daemon for t in threading.enumerate())

    gateway.close()
    gateway.close()

    assert not any(t.name == "otel-agents-gateway" for t in threading.enumerate())


def test_a_non_ascii_query_reaches_the_upstream_percent_encoded(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    """``?name=李`` used to raise a bare UnicodeEncodeError; a browser sends it as UTF-8
    percent-encoded, and so does route_request."""
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")

    response = gateway.route_request("GET", "/v1/users/7?name=李&q=a b")

    assert response.status_code == 200
    assert upstream_state.requests[-1]["query"] == "name=%E6%9D%8E&q=a%20b"
    (record,) = gateway.get_request_history()
    assert record["query"] == "name=%E6%9D%8E&q=a%20b"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"headers": {"X-User": "李"}}, InvalidValueError),
        ({"user_agent": 123}, InvalidTypeError),
        ({"client_ip": 3232235777}, InvalidTypeError),
    ],
    ids=["header-not-latin1", "ua-int", "ip-int"],
)
def test_bad_input_is_refused_before_anything_is_sent_or_recorded(
    make_gateway: Any,
    upstream: ThreadServer,
    upstream_state: UpstreamState,
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")

    with pytest.raises(error):
        gateway.route_request("GET", "/v1/users/7", **kwargs)

    assert gateway.get_request_history() == []
    assert upstream_state.requests == []
