"""The lean server telemetry emits exactly what ``OpenTelemetryMiddleware`` emits.

Two gateways, one per ``server_instrumentation`` setting, each on its own in-memory
providers, serve the same requests; their exported spans and metrics are compared field by
field (ids, timestamps and durations aside, which differ between any two runs).
"""

from __future__ import annotations

import contextlib
import http.client
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.instrumentation._semconv import (
    _OpenTelemetrySemanticConventionStability,
    _OpenTelemetryStabilitySignalType,
    _StabilityMode,
)
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan
from starlette.types import ASGIApp, Receive, Scope, Send

from otel_agents.gateway import APIGateway
from otel_agents.gateway._redacted_scope import RedactedScope
from otel_agents.gateway._server_span import LeanServerTelemetry
from otel_agents.testing import TelemetryCapture
from tests.gateway.conftest import ThreadServer, UpstreamState, upstream_app, wait_for_spans

pytestmark = pytest.mark.integration  # real servers or processes on 127.0.0.1

_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

#: (method, path, headers, body): routed, unrouted, refused, failing upstream, with a
#: remote parent, with token-like query and matrix parameters, bot and test user agents.
_REQUESTS: list[tuple[str, str, list[tuple[str, str]], bytes | None]] = [
    ("GET", "/v1/users/42", [("user-agent", "curl/8.5")], None),
    ("GET", "/v1/users/42?token=s3cret&page=2", [("traceparent", _PARENT)], None),
    ("GET", "/v1/users/7;jsessionid=abc", [("user-agent", "Googlebot/2.1")], None),
    ("POST", "/v1/echo", [("content-type", "text/plain")], b"12345"),
    ("GET", "/v1/fail", [("user-agent", "pytest-agent")], None),
    ("GET", "/v9/nothing", [], None),
    ("GET", "/v1/../etc", [], None),
    ("DELETE", "/v1/users/1", [("x-api-key", "wrong")], None),
    ("OPTIONS", "/v1/users/1", [], None),
    ("GET", "/_gateway/health", [], None),
    ("GET", "/_gateway/services", [], None),
]


_SECRET = "hunter2-canary"


class _Boom:
    """ASGI middleware that raises for ``/v1/boom`` (an exception through the server span)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path") == "/v1/boom":
            raise RuntimeError(f"boom password={_SECRET}")
        await self.app(scope, receive, send)


@pytest.fixture
def plain_upstream() -> Iterator[ThreadServer]:
    server = ThreadServer(upstream_app(UpstreamState())).start()
    yield server
    server.stop()


def _gateway(setting: str, upstream: str, capture: TelemetryCapture) -> APIGateway:
    gateway = APIGateway(
        {"server_instrumentation": setting, "health_check_interval": 60},
        tracer_provider=capture.tracer_provider,
        meter_provider=capture.meter_provider,
    )
    gateway.register_service("misc", "Misc", "v1", upstream)
    gateway.add_middleware(_Boom)
    return gateway


@contextlib.contextmanager
def _serving(setting: str, upstream: str) -> Iterator[tuple[TelemetryCapture, ThreadServer]]:
    """A gateway in ``setting`` mode in front of ``upstream``, served on 127.0.0.1, and the
    telemetry it records; all stopped after."""
    capture = TelemetryCapture()
    gateway = _gateway(setting, upstream, capture)
    server = ThreadServer(gateway.app).start()
    try:
        yield capture, server
    finally:
        server.stop()
        gateway.close()
        capture.shutdown()


def _span_fields(span: ReadableSpan, ids: dict[int, int], port: int | None) -> dict[str, Any]:
    """Everything exported about ``span`` but ids and times; parents by position."""
    attributes = dict(span.attributes or {})
    if port is not None:  # the two servers listen on different ports
        for key, value in attributes.items():
            if value == port:
                attributes[key] = "<port>"
            elif isinstance(value, str) and f":{port}" in value:
                attributes[key] = value.replace(f":{port}", ":<port>")
        if "client.port" in attributes:
            assert isinstance(attributes["client.port"], int)
            attributes["client.port"] = "<client port>"
    parent = span.parent
    scope = span.instrumentation_scope
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": attributes,
        "status": (span.status.status_code, span.status.description),
        # The stack trace names different frames of the two middlewares: its key is kept.
        "events": [
            (
                e.name,
                {
                    k: "<trace>" if k == "exception.stacktrace" else v
                    for k, v in (e.attributes or {}).items()
                },
            )
            for e in span.events
        ],
        "links": len(span.links),
        "parent": None
        if parent is None
        else (ids.get(parent.span_id, parent.span_id), parent.is_remote),
        "trace_remote": parent is not None and parent.is_remote and parent.trace_id,
        "scope": (scope.name, scope.version, scope.schema_url) if scope else None,
        "resource": dict(span.resource.attributes),
        "ended": span.end_time is not None and span.start_time is not None,
    }


def _message_aside(span: dict[str, Any]) -> dict[str, Any]:
    """``span`` without its status description and exception messages (compared apart)."""
    events = [
        (name, {k: v for k, v in attributes.items() if k != "exception.message"})
        for name, attributes in span["events"]
    ]
    return span | {"status": span["status"][0], "events": events}


def _spans(capture: TelemetryCapture, port: int | None = None) -> list[dict[str, Any]]:
    spans = capture.spans()
    ids = {span.context.span_id: index for index, span in enumerate(spans)}
    return [_span_fields(span, ids, port) for span in spans]


def _metrics(capture: TelemetryCapture) -> dict[str, Any]:
    """Every metric: scope, unit, description and per-point attributes, count, buckets and
    the kind of span its exemplars point to."""
    spans = {span.context.span_id: span.kind.name for span in capture.spans()}
    data = capture.metric_reader.get_metrics_data()
    assert data is not None
    found: dict[str, Any] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            for metric in scope_metrics.metrics:
                points = []
                for point in metric.data.data_points:
                    summary: dict[str, Any] = {"attributes": dict(point.attributes or {})}
                    for field in ("count", "explicit_bounds", "value"):
                        if hasattr(point, field) and field != "value":
                            summary[field] = getattr(point, field)
                    if hasattr(point, "bucket_counts"):
                        summary["observed"] = sum(point.bucket_counts)
                        # How many depends on timing (one per bucket); whose does not.
                        summary["exemplars_of"] = {
                            spans.get(e.span_id, "unknown") for e in point.exemplars
                        }
                    points.append(summary)
                points.sort(key=lambda p: sorted(p["attributes"].items(), key=str))
                found[metric.name] = {
                    "scope": (scope.name, scope.version, scope.schema_url),
                    "unit": metric.unit,
                    "description": metric.description,
                    "points": points,
                }
    return found


def _served(setting: str, upstream: str) -> tuple[APIGateway, TelemetryCapture]:
    capture = TelemetryCapture()
    gateway = _gateway(setting, upstream, capture)
    for method, path, headers, body in _REQUESTS:
        gateway.route_request(method, path, headers, body=body)
    with pytest.raises(RuntimeError, match="boom"):
        gateway.route_request("GET", "/v1/boom")
    return gateway, capture


def _contrib(app: ASGIApp) -> bool:
    """Whether ``app`` is the contrib middleware (shown the scope with its target redacted)."""
    return isinstance(app, RedactedScope) and isinstance(app.app, OpenTelemetryMiddleware)


def test_the_gateway_uses_the_lean_telemetry_by_default_and_contrib_when_asked(
    plain_upstream: ThreadServer,
) -> None:
    capture = TelemetryCapture()
    lean = _gateway("lean", plain_upstream.url, capture)
    contrib = _gateway("contrib", plain_upstream.url, capture)
    try:
        assert isinstance(lean.app, LeanServerTelemetry)
        assert _contrib(contrib.app)
        assert APIGateway().config.server_instrumentation == "lean"
    finally:
        lean.close()
        contrib.close()
        capture.shutdown()


def test_lean_and_contrib_export_the_same_spans_and_metrics(
    plain_upstream: ThreadServer,
) -> None:
    lean, lean_capture = _served("lean", plain_upstream.url)
    contrib, contrib_capture = _served("contrib", plain_upstream.url)
    try:
        lean_spans, contrib_spans = _spans(lean_capture), _spans(contrib_capture)
        # The comparison covers what matters: server spans, a remote parent, an exception.
        kinds = [s["kind"].name for s in contrib_spans]
        assert kinds.count("SERVER") == len(_REQUESTS) + 1
        assert any(s["parent"] and s["parent"][1] for s in contrib_spans)
        assert any(s["events"] for s in contrib_spans)
        assert any("url.query" in s["attributes"] for s in contrib_spans)
        # The one difference: the middleware passes an exception's message on as it is
        # (status and event); the lean telemetry redacts it and puts only the type name in
        # the status.
        (boom,) = [i for i, s in enumerate(contrib_spans) if s["events"]]
        assert contrib_spans[boom]["status"][1] == f"RuntimeError: boom password={_SECRET}"
        assert lean_spans[boom]["status"][1] == "RuntimeError"
        (event,) = lean_spans[boom]["events"]
        assert event[1]["exception.message"] == "boom password=[REDACTED]"
        assert _SECRET not in repr([span.to_json() for span in lean_capture.spans()])
        lean_spans[boom], contrib_spans[boom] = (
            _message_aside(lean_spans[boom]),
            _message_aside(contrib_spans[boom]),
        )
        for index, (ours, theirs) in enumerate(zip(lean_spans, contrib_spans, strict=True)):
            assert ours == theirs, f"span {index} ({theirs['name']}) differs"
        assert _metrics(lean_capture) == _metrics(contrib_capture)
    finally:
        lean.close()
        contrib.close()
        lean_capture.shutdown()
        contrib_capture.shutdown()


def _get_over_http(url: str, path: str, user_agent: str) -> int:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers={"user-agent": user_agent})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_lean_and_contrib_agree_over_a_real_connection(plain_upstream: ThreadServer) -> None:
    """Over a socket the scope has a real server address and client port."""
    results = []
    for setting in ("lean", "contrib"):
        with _serving(setting, plain_upstream.url) as (capture, server):
            assert _get_over_http(server.url, "/v1/users/3?page=1", "python-agent") == 200
            wait_for_spans(capture, "GET /v1/{path}")
            results.append((_spans(capture, server.port), _metrics(capture)))
    (lean_spans, lean_metrics), (contrib_spans, contrib_metrics) = results
    (server_span,) = [s for s in contrib_spans if s["kind"].name == "SERVER"]
    # The Host header's name and port, apart (the middleware alone wrote "127.0.0.1:<port>").
    assert server_span["attributes"]["server.address"] == "127.0.0.1"
    assert server_span["attributes"]["server.port"] == "<port>"
    assert lean_spans == contrib_spans
    assert lean_metrics == contrib_metrics


def _get_with_host(url: str, host: str) -> None:
    address, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(address, int(port), timeout=10)
    try:
        connection.putrequest("GET", "/v1/users/3", skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        connection.getresponse().read()
    finally:
        connection.close()


@pytest.mark.parametrize("setting", ["lean", "contrib"])
@pytest.mark.parametrize(
    ("host", "address", "port"),
    [
        ("api.example.com:8443", "api.example.com", 8443),
        ("api.example.com", "api.example.com", 80),  # the scheme's default port
        ("[2001:db8::1]:9000", "[2001:db8::1]", 9000),
        ("hub:99999", "hub:99999", 80),  # not a port: the name as sent, the default port
    ],
)
def test_server_address_and_port_are_the_host_headers_name_and_port(
    setting: str, host: str, address: str, port: int, plain_upstream: ThreadServer
) -> None:
    """The stable HTTP server span takes ``server.address`` and ``server.port`` from the Host
    header, parsed apart ("Instrumentations SHOULD populate both server.address and
    server.port attributes by parsing the value of corresponding header",
    docs/http/http-spans.md), not from the bound socket with its port glued on."""
    with _serving(setting, plain_upstream.url) as (capture, server):
        _get_with_host(server.url, host)
        wait_for_spans(capture, "GET /v1/{path}")
        span = capture.span("GET /v1/{path}")
    assert span.attributes is not None
    assert span.attributes["server.address"] == address
    assert span.attributes["server.port"] == port


def test_the_contrib_mode_span_knows_the_methods_the_conventions_variable_lists(
    plain_upstream: ThreadServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`` set, the middleware's server span
    follows it as the lean one does (its request hook writes the method); the middleware's
    own duration keeps opentelemetry-util-http's rule, and a method it did not know keeps the
    ``http.request.method_original`` it wrote at the start (docs/gateway.md)."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,PURGE")
    with _serving("contrib", plain_upstream.url) as (capture, server):
        for method in ("PURGE", "POST"):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            try:
                connection.request(method, "/v1/users/1")
                connection.getresponse().read()
            finally:
                connection.close()
        wait_for_spans(capture, "PURGE /v1/{path}", "HTTP /v1/{path}")
        purge = capture.span("PURGE /v1/{path}")
        post = capture.span("HTTP /v1/{path}")
    assert purge.attributes is not None
    assert purge.attributes["http.request.method"] == "PURGE"
    assert post.attributes is not None
    assert post.attributes["http.request.method"] == "_OTHER"
    assert post.attributes["http.request.method_original"] == "POST"


@pytest.mark.parametrize(
    ("config", "environ"),
    [
        ({"http_server_metrics": "all"}, {}),
        ({}, {"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "x-request-id"}),
        ({}, {"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "content-type"}),
    ],
)
def test_the_middleware_serves_what_the_lean_telemetry_does_not_emit(
    config: dict[str, str], environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    gateway = APIGateway(config)
    try:
        assert _contrib(gateway.app)
    finally:
        gateway.close()


@pytest.mark.parametrize("setting", ["lean", "contrib"])
def test_the_gateway_leaves_other_http_instrumentations_their_conventions(
    setting: str, plain_upstream: ThreadServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """contrib's process-wide HTTP mode stays the user's; only the gateway is stable."""
    stability = _OpenTelemetrySemanticConventionStability
    stability._initialize()  # type: ignore[no-untyped-call]
    http = _OpenTelemetryStabilitySignalType.HTTP
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    monkeypatch.setitem(
        stability._OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING, http, _StabilityMode.DEFAULT
    )
    capture = TelemetryCapture()
    gateway = _gateway(setting, plain_upstream.url, capture)
    try:
        gateway.route_request("GET", "/v1/users/1")  # builds the app, serves through it
        assert stability._get_opentelemetry_stability_opt_in_mode(http) is _StabilityMode.DEFAULT
        other = OpenTelemetryMiddleware(upstream_app(UpstreamState()))
        assert other._sem_conv_opt_in_mode is _StabilityMode.DEFAULT
        names = set(capture.metrics())
        assert "http.server.request.duration" in names
        assert "http.server.duration" not in names
    finally:
        gateway.close()
        capture.shutdown()
