"""Proxying through a real gateway to a real upstream, both uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import _http
import httpx
import pytest
from opentelemetry.trace import SpanKind

from otel_agents import semconv
from otel_agents.gateway import APIGateway
from otel_agents.testing import TelemetryCapture

from .conftest import (
    ThreadServer,
    UpstreamState,
    free_port,
    history_after,
    upstream_app,
    wait_for_spans,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def served(make_gateway: Any, upstream: ThreadServer) -> tuple[APIGateway, str]:
    gateway = make_gateway({"request_timeout": 0.5, "max_body_size": 1_000_000})
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    gateway.register_service("misc", "Misc", "v1", upstream.url)
    server = make_gateway.serve(gateway)
    return gateway, server.url


def test_upstream_sees_traceparent_and_joins_the_gateway_trace(
    served: tuple[APIGateway, str], upstream_state: UpstreamState, telemetry: TelemetryCapture
) -> None:
    _, url = served
    response = _http.get(f"{url}/v1/users/42?page=1")

    assert response.status_code == 200
    assert response.json() == {"id": "42", "name": "Ada"}
    assert upstream_state.requests[-1]["path"] == "/users/42"
    assert upstream_state.requests[-1]["query"] == "page=1"
    traceparent = upstream_state.header("traceparent")
    assert traceparent is not None
    wait_for_spans(telemetry, "GET /v1/users/{path}", "GET", "GET /users/42")
    server_span = telemetry.span("GET /v1/users/{path}")
    client_span = telemetry.span("GET")
    upstream_span = telemetry.span("GET /users/42")
    trace_id = server_span.context.trace_id
    assert client_span.kind is SpanKind.CLIENT
    assert client_span.parent is not None
    assert client_span.parent.span_id == server_span.context.span_id
    assert traceparent.split("-")[1] == format(trace_id, "032x")
    assert traceparent.split("-")[2] == format(client_span.context.span_id, "016x")
    assert upstream_span.context.trace_id == trace_id
    assert upstream_span.parent is not None
    assert upstream_span.parent.span_id == client_span.context.span_id


def test_server_span_is_named_by_route_template_with_stable_attributes(
    served: tuple[APIGateway, str], telemetry: TelemetryCapture
) -> None:
    _, url = served
    _http.get(f"{url}/v1/users/42")

    wait_for_spans(telemetry, "GET /v1/users/{path}", "GET")
    server_span = telemetry.span("GET /v1/users/{path}")
    assert server_span.kind is SpanKind.SERVER
    assert server_span.attributes is not None
    assert server_span.attributes["http.route"] == "/v1/users/{path}"
    assert server_span.attributes["gateway.service.id"] == "users"
    assert server_span.attributes["http.response.status_code"] == 200
    client = telemetry.span("GET")
    assert client.attributes is not None
    assert client.attributes["server.address"] == "127.0.0.1"
    assert client.attributes["http.response.status_code"] == 200
    names = [span.name for span in telemetry.spans()]
    assert not [n for n in names if n.endswith((" send", " receive"))]


def test_stable_http_server_duration_is_emitted_in_seconds(
    make_gateway: Any, plain_upstream: ThreadServer, telemetry: TelemetryCapture
) -> None:
    """The gateway's own; an instrumented upstream in this process keeps the user's mode."""
    gateway = make_gateway()
    gateway.register_service("users", "Users", "v1", plain_upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url
    _http.get(f"{url}/v1/users/42")

    wait_for_spans(telemetry, "GET /v1/users/{path}")
    metrics = telemetry.metrics()
    duration = metrics["http.server.request.duration"]
    assert duration.unit == "s"
    assert "http.server.duration" not in metrics
    (point,) = telemetry.points("http.server.request.duration", {"http.route": "/v1/users/{path}"})
    assert point.attributes["http.response.status_code"] == 200
    assert point.count == 1
    (client_point,) = telemetry.points("http.client.request.duration")
    assert telemetry.metric("http.client.request.duration").unit == "s"
    assert client_point.attributes["gateway.service.id"] == "users"
    (requests,) = telemetry.points("gateway.requests", {"gateway.service.id": "users"})
    assert requests.value == 1
    assert requests.attributes["gateway.response.status_class"] == "2xx"
    assert requests.attributes["http.route"] == "/v1/users/{path}"


def test_an_upstream_4xx_is_an_error_type_on_the_client_metric_as_on_the_span(
    served: tuple[APIGateway, str], telemetry: TelemetryCapture
) -> None:
    """HTTP client conventions: status >= 400 is an error; ``error.type`` is the code."""
    _, url = served
    assert _http.get(f"{url}/v1/no-such-upstream-path").status_code == 404

    wait_for_spans(telemetry, "GET /v1/{path}")
    (client,) = [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT]
    assert client.attributes["error.type"] == "404"
    (point,) = telemetry.points("http.client.request.duration")
    assert point.attributes["http.response.status_code"] == 404
    assert point.attributes["error.type"] == "404"
    assert tuple(point.explicit_bounds) == semconv.SEMCONV_DURATION_BUCKETS
    assert "gateway.upstream.errors" not in telemetry.metrics()  # 5xx and failures only


_OPTIONAL_SERVER_METRICS = (
    "http.server.active_requests",
    "http.server.request.body.size",
    "http.server.response.body.size",
)


@pytest.fixture
def plain_upstream(upstream_state: UpstreamState) -> Iterator[ThreadServer]:
    """An uninstrumented upstream: every HTTP server metric recorded is the gateway's."""
    server = ThreadServer(upstream_app(upstream_state)).start()
    yield server
    server.stop()


@pytest.mark.parametrize("setting", [{}, {"http_server_metrics": "stable"}])
def test_only_the_stable_server_duration_is_recorded_by_default(
    make_gateway: Any,
    plain_upstream: ThreadServer,
    telemetry: TelemetryCapture,
    setting: dict[str, str],
) -> None:
    gateway = make_gateway(setting)
    gateway.register_service("misc", "Misc", "v1", plain_upstream.url)
    response = _http.post(f"{make_gateway.serve(gateway).url}/v1/echo", content=b"12345")

    assert response.status_code == 200
    wait_for_spans(telemetry, "POST /v1/{path}")
    (duration,) = telemetry.points("http.server.request.duration", {"http.route": "/v1/{path}"})
    assert duration.count == 1
    recorded = telemetry.metrics()
    assert [name for name in _OPTIONAL_SERVER_METRICS if name in recorded] == []


def test_all_server_metrics_are_recorded_when_asked(
    make_gateway: Any, plain_upstream: ThreadServer, telemetry: TelemetryCapture
) -> None:
    gateway = make_gateway({"http_server_metrics": "all"})
    gateway.register_service("misc", "Misc", "v1", plain_upstream.url)
    response = _http.post(f"{make_gateway.serve(gateway).url}/v1/echo", content=b"12345")

    assert response.status_code == 200
    wait_for_spans(telemetry, "POST /v1/{path}")
    (request_size,) = telemetry.points("http.server.request.body.size")
    assert request_size.sum == 5
    (response_size,) = telemetry.points("http.server.response.body.size")
    assert response_size.sum == len(response.content)
    (in_flight,) = telemetry.points("http.server.active_requests")
    assert in_flight.value == 0
    (duration,) = telemetry.points("http.server.request.duration", {"http.route": "/v1/{path}"})
    assert duration.count == 1


def test_hop_by_hop_request_headers_are_stripped_but_gateway_headers_are_kept(
    served: tuple[APIGateway, str], upstream_state: UpstreamState
) -> None:
    _, url = served
    _http.get(
        f"{url}/v1/users/1",
        headers={
            "Connection": "keep-alive, X-Hop-Secret, X-Forwarded-For, traceparent",
            "X-Hop-Secret": "s3",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Upgrade": "h2c",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==",
            "Proxy-Connection": "keep-alive",
            "X-End-To-End": "kept",
        },
    )

    names = upstream_state.header_names()
    for dropped in ("x-hop-secret", "te", "upgrade", "proxy-authorization", "proxy-connection"):
        assert dropped not in names
    assert upstream_state.header("keep-alive") is None
    assert upstream_state.header("x-end-to-end") == "kept"
    assert upstream_state.header("x-forwarded-for") == "127.0.0.1"
    assert upstream_state.header("x-forwarded-proto") == "http"
    assert upstream_state.header("x-forwarded-host") == url.removeprefix("http://")
    assert upstream_state.header("traceparent") is not None


def test_hop_by_hop_response_headers_are_stripped(served: tuple[APIGateway, str]) -> None:
    _, url = served
    response = _http.get(f"{url}/v1/hop")

    assert response.status_code == 200
    assert response.headers["x-kept"] == "yes"
    assert "x-internal-hop" not in response.headers
    assert "keep-alive" not in response.headers


def test_untrusted_peers_cannot_forge_x_forwarded_for(
    served: tuple[APIGateway, str], upstream_state: UpstreamState
) -> None:
    gateway, url = served
    _http.get(f"{url}/v1/users/1", headers={"X-Forwarded-For": "6.6.6.6"})

    assert upstream_state.header("x-forwarded-for") == "127.0.0.1"
    assert history_after(gateway, 1)[-1]["client_ip"] == "127.0.0.1"


def test_trusted_proxies_extend_x_forwarded_for(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    gateway = make_gateway({"trusted_proxies": ["127.0.0.0/8"]})
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    url = make_gateway.serve(gateway).url
    _http.get(
        f"{url}/v1/users/1",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
    )

    assert upstream_state.header("x-forwarded-for") == "203.0.113.9, 127.0.0.1"
    assert upstream_state.header("x-forwarded-proto") == "https"
    assert history_after(gateway, 1)[-1]["client_ip"] == "203.0.113.9"


def test_streaming_bodies_pass_through_both_ways(
    served: tuple[APIGateway, str], upstream_state: UpstreamState
) -> None:
    _, url = served
    payload = bytes(range(256)) * 2048  # 512 KiB, above the inline limit

    def chunks() -> Any:
        for i in range(0, len(payload), 65536):
            yield payload[i : i + 65536]

    echoed = _http.post(f"{url}/v1/echo", content=chunks())
    streamed = _http.get(f"{url}/v1/stream")

    assert echoed.status_code == 200
    assert echoed.content == payload
    assert upstream_state.requests[-2]["body"] == payload
    assert len(streamed.content) == 64 * 8192
    assert streamed.content[:8192] == b"A" * 8192


def test_large_declared_bodies_stream_upstream(
    served: tuple[APIGateway, str], upstream_state: UpstreamState
) -> None:
    _, url = served
    payload = b"x" * 700_000
    response = _http.put(f"{url}/v1/echo", content=payload)

    assert response.status_code == 200
    assert response.headers["x-echo-length"] == "700000"
    assert upstream_state.requests[-1]["body"] == payload


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    document: dict[str, Any] = response.json()
    assert document["status"] == status
    assert set(document) == {"type", "title", "status", "detail"}
    text = json.dumps(document)
    for internal in ("127.0.0.1", "Traceback", "Error(", "10.0.0.5", "localhost"):
        assert internal not in text
    return document


def test_unknown_version_or_path_is_a_404_problem(served: tuple[APIGateway, str]) -> None:
    _, url = served
    assert_problem(_http.get(f"{url}/v9/users/1"), 404)
    assert_problem(_http.get(f"{url}/"), 404)


def test_oversized_body_is_413_before_the_upstream_is_contacted(
    served: tuple[APIGateway, str], upstream_state: UpstreamState
) -> None:
    _, url = served
    response = _http.post(f"{url}/v1/echo", content=b"x" * 1_000_001)

    assert_problem(response, 413)
    assert upstream_state.requests == []


def test_oversized_chunked_body_is_413_before_the_upstream_is_contacted(
    served: tuple[APIGateway, str], upstream_state: UpstreamState
) -> None:
    _, url = served
    response = _http.post(f"{url}/v1/echo", content=iter([b"x" * 600_000, b"y" * 600_000]))

    assert_problem(response, 413)
    assert upstream_state.requests == []


def test_refused_upstream_is_a_502_problem(make_gateway: Any, telemetry: TelemetryCapture) -> None:
    gateway = make_gateway()
    gateway.register_service("gone", "Gone", "v1", f"http://127.0.0.1:{free_port()}")
    url = make_gateway.serve(gateway).url
    response = _http.get(f"{url}/v1/anything")

    assert_problem(response, 502)
    wait_for_spans(telemetry, "GET /v1/{path}")
    client = telemetry.span("GET")
    assert client.attributes is not None
    assert client.attributes["error.type"] == "connect_error"
    (errors,) = telemetry.points("gateway.upstream.errors", {"gateway.service.id": "gone"})
    assert errors.value == 1


def test_slow_upstream_is_a_504_problem(served: tuple[APIGateway, str]) -> None:
    gateway, url = served
    assert_problem(_http.get(f"{url}/v1/slow"), 504)
    assert history_after(gateway, 1)[-1]["error_type"] == "timeout"


def test_no_healthy_instance_is_a_503_problem(served: tuple[APIGateway, str]) -> None:
    gateway, url = served
    service = gateway.router.match("/v1/users/1").service  # type: ignore[union-attr]
    for _ in range(gateway.health.unhealthy_threshold):  # out by passive checks
        gateway.health.record(service, service.instances[0], False)

    assert_problem(_http.get(f"{url}/v1/users/1"), 503)  # within the cool-down


def test_upstream_5xx_passes_through_unchanged(served: tuple[APIGateway, str]) -> None:
    _, url = served
    response = _http.get(f"{url}/v1/fail")
    assert response.status_code == 500
    assert response.content == b"internal detail: db at 10.0.0.5"


def test_rate_limited_requests_get_429_with_headers(
    served: tuple[APIGateway, str], telemetry: TelemetryCapture
) -> None:
    gateway, url = served
    gateway.set_rate_limit("users", 1, 2)
    with _http.Client() as client:
        statuses = [client.get(f"{url}/v1/users/1") for _ in range(3)]

    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[0].headers["ratelimit-limit"] == "2"
    assert statuses[0].headers["ratelimit-remaining"] == "1"
    refused = statuses[2]
    assert_problem(refused, 429)
    assert refused.headers["retry-after"] == "60"
    assert refused.headers["ratelimit-remaining"] == "0"
    (limited,) = telemetry.points("gateway.rate_limited")
    assert limited.value == 1
    assert limited.attributes == {
        "gateway.service.id": "users",
        "gateway.rate_limit.scope": "service",
    }


def test_a_hundred_concurrent_requests_are_never_over_admitted(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    import asyncio

    gateway = make_gateway({"request_timeout": 10})
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    gateway.set_rate_limit("users", 1, 10)
    url = make_gateway.serve(gateway).url

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=100)
        async with _http.AsyncClient(limits=limits, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.get(f"{url}/v1/users/{i}") for i in range(100))
            )
        return [r.status_code for r in responses]

    statuses = asyncio.run(burst())

    assert statuses.count(429) == 90
    assert statuses.count(200) == 10
    assert len(upstream_state.requests) == 10


def test_api_keys_answer_401_without_and_403_with_wrong_credentials(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway({"api_keys": ["global-key"]})
    gateway.register_service(
        "users", "Users", "v1", upstream.url, path_prefix="/users", api_keys=["users-key"]
    )
    url = make_gateway.serve(gateway).url

    missing = _http.get(f"{url}/v1/users/1")
    wrong = _http.get(f"{url}/v1/users/1", headers={"Authorization": "Bearer nope"})
    by_bearer = _http.get(f"{url}/v1/users/1", headers={"Authorization": "Bearer users-key"})
    by_api_key = _http.get(f"{url}/v1/users/1", headers={"X-API-Key": "global-key"})

    assert_problem(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert_problem(wrong, 403)
    assert by_bearer.status_code == 200
    assert by_api_key.status_code == 200


def test_with_telemetry_off_the_callers_traceparent_passes_through(
    upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    gateway = APIGateway(
        tracer_provider=NoOpTracerProvider(),
        meter_provider=NoOpMeterProvider(),
        instrument=False,
    )
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    try:
        response = gateway.route_request("GET", "/v1/users/1", {"traceparent": traceparent})
    finally:
        gateway.close()

    assert response.status_code == 200
    assert upstream_state.header("traceparent") == traceparent


def test_unknown_methods_keep_metric_attributes_and_span_names_bounded(
    served: tuple[APIGateway, str], telemetry: TelemetryCapture
) -> None:
    _, url = served
    response = _http.request("PURGE", f"{url}/v1/echo")

    assert response.status_code == 405  # the upstream's answer, passed through
    wait_for_spans(telemetry, "HTTP /v1/{path}")
    client = telemetry.span("HTTP")
    assert client.attributes is not None
    assert client.attributes["http.request.method"] == "_OTHER"
    (requests,) = telemetry.points("gateway.requests", {"gateway.service.id": "misc"})
    assert requests.attributes["http.request.method"] == "_OTHER"


def test_upstream_client_span_of_an_unknown_method_keeps_its_original_method(
    served: tuple[APIGateway, str], telemetry: TelemetryCapture
) -> None:
    """The HTTP client span conventions make ``http.request.method_original`` Conditionally
    Required "If and only if it's different than ``http.request.method``" (stable,
    docs/http/http-spans.md): a PURGE forwarded upstream is ``_OTHER`` and ``PURGE``."""
    _, url = served
    _http.request("PURGE", f"{url}/v1/echo")

    wait_for_spans(telemetry, "HTTP /v1/{path}")
    client = telemetry.span("HTTP")
    assert client.kind is SpanKind.CLIENT
    assert client.attributes is not None
    assert client.attributes["http.request.method"] == "_OTHER"
    assert client.attributes["http.request.method_original"] == "PURGE"


def test_the_gateway_knows_the_methods_the_conventions_variable_lists(
    make_gateway: Any,
    upstream: ThreadServer,
    telemetry: TelemetryCapture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`` (stable HTTP conventions: the override
    of the known methods, "a full override of the default known methods") names the
    methods the gateway's spans and metrics keep: PURGE listed is ``PURGE`` everywhere."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,POST,PURGE")
    gateway = make_gateway()
    gateway.register_service("misc", "Misc", "v1", upstream.url)
    url = make_gateway.serve(gateway).url
    _http.request("PURGE", f"{url}/v1/echo")

    wait_for_spans(telemetry, "PURGE /v1/{path}")
    server = telemetry.span("PURGE /v1/{path}")
    assert server.attributes is not None
    assert server.attributes["http.request.method"] == "PURGE"
    assert semconv.HTTP_REQUEST_METHOD_ORIGINAL not in server.attributes
    client = telemetry.span("PURGE")
    assert client.attributes is not None
    assert client.attributes["http.request.method"] == "PURGE"
    (requests,) = telemetry.points("gateway.requests", {"gateway.service.id": "misc"})
    assert requests.attributes["http.request.method"] == "PURGE"
    (upstream_call,) = telemetry.points("http.client.request.duration")
    assert upstream_call.attributes["http.request.method"] == "PURGE"
    (served,) = telemetry.points("http.server.request.duration")
    assert served.attributes["http.request.method"] == "PURGE"


def test_query_is_a_known_method_on_every_gateway_span_and_metric(
    served: tuple[APIGateway, str], telemetry: TelemetryCapture
) -> None:
    """The stable HTTP conventions count QUERY among the known methods ("By default, this
    convention defines 'known' methods as the ones listed in RFC9110, the PATCH method ...
    and the QUERY method", docs/http/http-spans.md), as the server span's own attribute
    (util-http) and the hub already did: the span names, the upstream call and
    ``gateway.requests`` say ``QUERY`` too, not ``HTTP``/``_OTHER``."""
    _, url = served
    _http.request("QUERY", f"{url}/v1/echo")

    wait_for_spans(telemetry, "QUERY /v1/{path}")
    server = telemetry.span("QUERY /v1/{path}")
    assert server.attributes is not None
    assert server.attributes["http.request.method"] == "QUERY"
    client = telemetry.span("QUERY")
    assert client.kind is SpanKind.CLIENT
    assert client.attributes is not None
    assert client.attributes["http.request.method"] == "QUERY"
    assert semconv.HTTP_REQUEST_METHOD_ORIGINAL not in client.attributes
    (requests,) = telemetry.points("gateway.requests", {"gateway.service.id": "misc"})
    assert requests.attributes["http.request.method"] == "QUERY"
    (upstream,) = telemetry.points("http.client.request.duration")
    assert upstream.attributes["http.request.method"] == "QUERY"


@pytest.mark.parametrize("path", ["/v1/users/../fail", "/v1/users/%2e%2e/fail", "/v1/users/./1"])
def test_dot_segments_cannot_escape_the_routed_prefix(
    served: tuple[APIGateway, str], upstream_state: UpstreamState, path: str
) -> None:
    gateway, _ = served
    response = gateway.route_request("GET", path)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert upstream_state.requests == []


def test_the_upstream_gets_the_clients_percent_encoding(
    served: tuple[APIGateway, str], upstream_state: UpstreamState
) -> None:
    _, url = served
    response = _http.get(f"{url}/v%31/users/a%20b%3Bc")

    assert response.status_code == 200
    assert upstream_state.requests[-1]["raw_path"] == b"/users/a%20b%3Bc"


def test_a_service_with_strip_prefix_gets_the_path_after_its_prefix(
    make_gateway: Any, upstream: ThreadServer, upstream_state: UpstreamState
) -> None:
    gateway = make_gateway()
    gateway.register_service(
        "hub", "Hub", "v1", upstream.url, path_prefix="/hub/inner", strip_prefix=True
    )
    url = make_gateway.serve(gateway).url

    assert _http.get(f"{url}/v1/hub/inner/echo?x=1").status_code == 200
    assert upstream_state.requests[-1]["path"] == "/echo"
    assert upstream_state.requests[-1]["query"] == "x=1"


def test_spoofed_client_ids_do_not_give_a_throttled_client_a_new_burst(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    """Behind a trusted proxy the client id is X-Forwarded-For: anyone can flood new ids."""
    gateway = make_gateway(
        {"trusted_proxies": ["127.0.0.1"], "max_rate_limit_clients": 10},
        clock=lambda: 1000.0,  # time stands still: no bucket refills during the test
    )
    gateway.register_service("users", "Users", "v1", upstream.url, path_prefix="/users")
    gateway.set_rate_limit("users", 1, 2, per_client=True)
    url = make_gateway.serve(gateway).url

    with _http.Client() as http:

        def get(client: str) -> int:
            headers = {"x-forwarded-for": client}
            return http.get(f"{url}/v1/users/1", headers=headers).status_code

        assert [get("203.0.113.7") for _ in range(3)] == [200, 200, 429]
        for i in range(40):
            get(f"198.51.100.{i}")
        assert get("203.0.113.7") == 429
