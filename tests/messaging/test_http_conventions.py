"""The hub's and inboxes' HTTP server telemetry follows the stable HTTP conventions.

Real uvicorn servers on 127.0.0.1: SERVER spans named after route templates (bounded names),
stable attributes, ``http.server.request.duration`` in seconds, health checks untraced by
default, and ``OTEL_PYTHON_*EXCLUDED_URLS`` honoured.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterator

import _http
import httpx
import pytest
from _waits import eventually
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.trace import SpanKind

from otel_agents import semconv as sc
from otel_agents.messaging._hub import create_hub, create_hub_app
from otel_agents.testing import TelemetryCapture
from tests.messaging.servers import AUTH, ThreadServer, security

pytestmark = pytest.mark.integration  # real servers or processes on 127.0.0.1

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

StartHub = Callable[[], ThreadServer]


@pytest.fixture
def start_hub(telemetry: TelemetryCapture) -> Iterator[StartHub]:
    """Start a hub (after the test set its environment) wired to the test's telemetry."""
    started: list[ThreadServer] = []

    def start() -> ThreadServer:
        providers = {
            "tracer_provider": telemetry.tracer_provider,
            "meter_provider": telemetry.meter_provider,
        }
        hub = create_hub(security=security(), **providers)
        server = ThreadServer(create_hub_app(hub, security(), **providers)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def exercise(url: str) -> None:
    """Register, heartbeat, ask for an unknown message, an unknown path and health."""
    with _http.Client(base_url=url, headers=AUTH, timeout=10) as client:
        registration = {
            "agent_id": "planner",
            "name": "Planner",
            "capabilities": ["planning"],
            "endpoint": "http://127.0.0.1:1",
        }
        assert client.post("/agents", json=registration).status_code == 201
        heartbeat = client.post(
            "/agents/planner/heartbeat", json={}, headers={"traceparent": TRACEPARENT}
        )
        assert heartbeat.status_code == 200
        assert client.get("/messages/m-123").status_code == 404
        assert client.get("/no/such/path").status_code == 404
        assert client.get("/healthz").status_code == 200


def server_span_names(telemetry: TelemetryCapture, count: int) -> list[str]:
    """The SERVER span names, sorted, once ``count`` have ended: a server ends a request's
    span just after sending its last byte, so the client can hold the last response a
    moment before that span is exported."""

    def names() -> list[str]:
        return sorted(s.name for s in telemetry.spans() if s.kind is SpanKind.SERVER)

    eventually(lambda: len(names()) >= count, f"{count} SERVER spans", 10.0, poll=0.005)
    return names()


def test_server_spans_are_named_after_route_templates(
    start_hub: StartHub, telemetry: TelemetryCapture
) -> None:
    exercise(start_hub().url)
    names = server_span_names(telemetry, 4)
    assert names == [
        "GET",  # no route matched: the method alone
        "GET /messages/{message_id}",
        "POST /agents",
        "POST /agents/{agent_id}/heartbeat",
    ]


def test_server_spans_carry_the_stable_http_attributes(
    start_hub: StartHub, telemetry: TelemetryCapture
) -> None:
    hub = start_hub()
    exercise(hub.url)
    span = telemetry.span("POST /agents/{agent_id}/heartbeat")
    assert span.kind is SpanKind.SERVER
    assert format(span.context.trace_id, "032x") == TRACEPARENT.split("-")[1]
    attributes = dict(span.attributes or {})
    assert {
        k: attributes.get(k)
        for k in (
            sc.HTTP_REQUEST_METHOD,
            sc.HTTP_ROUTE,
            sc.HTTP_RESPONSE_STATUS_CODE,
            sc.URL_PATH,
            sc.URL_SCHEME,
            sc.SERVER_ADDRESS,
            sc.SERVER_PORT,
            sc.CLIENT_ADDRESS,
            sc.NETWORK_PROTOCOL_VERSION,
        )
    } == {
        sc.HTTP_REQUEST_METHOD: "POST",
        sc.HTTP_ROUTE: "/agents/{agent_id}/heartbeat",
        sc.HTTP_RESPONSE_STATUS_CODE: 200,
        sc.URL_PATH: "/agents/planner/heartbeat",
        sc.URL_SCHEME: "http",
        sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: hub.port,
        sc.CLIENT_ADDRESS: "127.0.0.1",
        sc.NETWORK_PROTOCOL_VERSION: "1.1",
    }
    old = {"http.method", "http.target", "http.url", "net.peer.ip", "http.status_code"}
    assert old & set(attributes) == set()
    assert sc.HTTP_ROUTE not in (telemetry.span("GET").attributes or {})


def test_request_duration_is_the_stable_histogram_in_seconds_by_route(
    start_hub: StartHub, telemetry: TelemetryCapture
) -> None:
    exercise(start_hub().url)
    metric = telemetry.metric(sc.HTTP_SERVER_REQUEST_DURATION.name)
    assert metric.unit == "s"
    assert sc.HTTP_SERVER_DURATION not in telemetry.metrics()  # the old millisecond one
    (point,) = telemetry.points(metric.name, {sc.HTTP_ROUTE: "/agents/{agent_id}/heartbeat"})
    assert dict(point.attributes) == {
        sc.HTTP_REQUEST_METHOD: "POST",
        sc.HTTP_ROUTE: "/agents/{agent_id}/heartbeat",
        sc.HTTP_RESPONSE_STATUS_CODE: 200,
        sc.URL_SCHEME: "http",
        sc.NETWORK_PROTOCOL_VERSION: "1.1",
    }
    assert tuple(point.explicit_bounds) == sc.SEMCONV_DURATION_BUCKETS
    routes = {p.attributes.get(sc.HTTP_ROUTE) for p in telemetry.points(metric.name)}
    assert "/healthz" not in routes


@pytest.mark.parametrize(
    "variable", ["OTEL_PYTHON_STARLETTE_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS"]
)
def test_excluded_urls_variables_replace_the_health_check_default(
    start_hub: StartHub,
    telemetry: TelemetryCapture,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    """Either variable chooses what is untraced: here the heartbeats, so health is traced."""
    monkeypatch.delenv("OTEL_PYTHON_STARLETTE_EXCLUDED_URLS", raising=False)
    monkeypatch.delenv("OTEL_PYTHON_EXCLUDED_URLS", raising=False)
    monkeypatch.setenv(variable, "/heartbeat$, /messages/")
    exercise(start_hub().url)
    assert server_span_names(telemetry, 3) == ["GET", "GET /healthz", "POST /agents"]


def test_an_unknown_method_is_recorded_as_other(telemetry: TelemetryCapture) -> None:
    """uvicorn refuses unknown methods itself, so this one goes straight to the ASGI app."""
    providers = {
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
    }
    app = create_hub_app(create_hub(security=security(), **providers), security(), **providers)

    async def request() -> int:
        transport = httpx.ASGITransport(app=app)
        async with _http.AsyncClient(transport=transport, base_url="http://hub") as client:
            response = await client.request("FOOBAR", "/agents", headers=AUTH)
        return response.status_code

    assert asyncio.run(request()) == 405
    span = telemetry.span("HTTP /agents")
    attributes = dict(span.attributes or {})
    assert attributes[sc.HTTP_REQUEST_METHOD] == "_OTHER"
    assert attributes[sc.HTTP_REQUEST_METHOD_ORIGINAL] == "FOOBAR"


def test_known_methods_are_what_the_conventions_variable_lists(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stable HTTP conventions: an instrumentation that turns valid methods into
    ``_OTHER`` "MUST provide a way to override the list of known HTTP methods", through
    ``OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS``, "a full override of the default known
    methods": PURGE listed is known, PUT unlisted is not."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET, POST,PURGE")
    providers = {
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
    }
    app = create_hub_app(create_hub(security=security(), **providers), security(), **providers)

    async def request(method: str) -> int:
        transport = httpx.ASGITransport(app=app)
        async with _http.AsyncClient(transport=transport, base_url="http://hub") as client:
            response = await client.request(method, "/agents", headers=AUTH)
        return response.status_code

    assert asyncio.run(request("PURGE")) == 405
    assert asyncio.run(request("PUT")) == 405
    purge = dict(telemetry.span("PURGE /agents").attributes or {})
    assert purge[sc.HTTP_REQUEST_METHOD] == "PURGE"
    assert sc.HTTP_REQUEST_METHOD_ORIGINAL not in purge
    put = dict(telemetry.span("HTTP /agents").attributes or {})
    assert put[sc.HTTP_REQUEST_METHOD] == "_OTHER"
    assert put[sc.HTTP_REQUEST_METHOD_ORIGINAL] == "PUT"
    methods = {
        p.attributes[sc.HTTP_REQUEST_METHOD]
        for p in telemetry.points(sc.HTTP_SERVER_REQUEST_DURATION.name)
    }
    assert methods == {"PURGE", "_OTHER"}


def raw_get(port: int, path: bytes, host: bytes, *headers: bytes) -> bytes:
    """The status line of a GET sent as raw bytes (no client library vets the Host)."""
    head = b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + b"".join(h + b"\r\n" for h in headers) + b"\r\n")
        answer = b""
        while b"\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


HOSTILE_HOSTS = {
    "unicode-digit": b"hub:\xb2",  # latin-1 "\u00b2": str.isdigit() says yes, int() raises
    "30-digits": b"hub:" + b"9" * 30,  # past int64: OTLP cannot encode it
    "colons": b":::",
    "zero": b"hub:0",
    "65536": b"hub:65536",
    "5000-digits": b"hub:" + b"1" * 5000,  # int() refuses more than 4300 digits
}


@pytest.mark.parametrize("host", HOSTILE_HOSTS.values(), ids=HOSTILE_HOSTS.keys())
def test_a_hostile_host_header_gets_the_routes_normal_answer_and_a_valid_port(
    start_hub: StartHub, telemetry: TelemetryCapture, host: bytes
) -> None:
    """``Host`` is the client's to write: the telemetry middleware records the scheme's
    default port rather than something that is not a port, and never fails the request."""
    hub = start_hub()
    assert raw_get(hub.port, b"/healthz", host) == b"HTTP/1.1 200 OK"
    auth = [f"{k}: {v}".encode() for k, v in AUTH.items()]
    assert raw_get(hub.port, b"/agents", host, *auth) == b"HTTP/1.1 200 OK"
    eventually(lambda: telemetry.spans("GET /agents"), "the GET /agents span", 10.0)
    (span,) = telemetry.spans("GET /agents")
    assert (span.attributes or {}).get(sc.SERVER_PORT) == 80
    assert (span.attributes or {}).get(sc.HTTP_RESPONSE_STATUS_CODE) == 200
    encode_spans([span])  # OTLP can export it (an int64-overflowing port could not be)


def test_the_hub_records_url_query_with_tokens_masked(
    start_hub: StartHub, telemetry: TelemetryCapture
) -> None:
    """``url.query`` is Conditionally Required when a query was received; a token in it is
    masked as the gateway masks it, and so is a token-like matrix parameter of the path."""
    url = start_hub().url
    with _http.Client(base_url=url, headers=AUTH, timeout=10) as client:
        assert client.get("/agents?token=abc&page=2").status_code == 200
        assert client.get("/messages/m-1;sig=abc").status_code == 404
        assert client.get("/agents").status_code == 200
    server_span_names(telemetry, 3)
    with_query, without = sorted(
        (s for s in telemetry.spans() if s.name == "GET /agents"),
        key=lambda s: sc.URL_QUERY in (s.attributes or {}),
        reverse=True,
    )
    assert (with_query.attributes or {})[sc.URL_QUERY] == "token=REDACTED&page=2"
    assert sc.URL_QUERY not in (without.attributes or {})
    matrix = telemetry.span("GET /messages/{message_id}").attributes or {}
    assert matrix[sc.URL_PATH] == "/messages/m-1;sig=REDACTED"
    assert sc.URL_QUERY not in matrix
    assert all("abc" not in str(s.attributes) for s in telemetry.spans())


def test_an_inbox_records_url_query_with_tokens_masked(telemetry: TelemetryCapture) -> None:
    from otel_agents.messaging._inbox import create_inbox_app
    from otel_agents.messaging._remote import RemoteAgent

    agent = RemoteAgent(
        "worker", "worker", ["work"], "http://127.0.0.1:1", "http://127.0.0.1:1",
        security=security(),
    )  # fmt: skip
    app = create_inbox_app(
        agent,
        run_agent=False,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    server = ThreadServer(app).start()
    try:
        answer = _http.post(f"{server.url}/inbox?access_token=abc", content=b"{}", timeout=10)
        assert answer.status_code in (400, 401)  # unsigned: refused, and traced all the same
        eventually(
            lambda: any(s.kind is SpanKind.SERVER for s in telemetry.spans()),
            "the inbox's SERVER span",
            10.0,
        )
    finally:
        server.stop()
        asyncio.run(agent.aclose())
    (span,) = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
    assert span.name == "POST /inbox"
    assert (span.attributes or {})[sc.URL_QUERY] == "access_token=REDACTED"


def test_hostile_baggage_costs_the_hub_no_log_line(
    start_hub: StartHub, telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture
) -> None:
    """179 malformed baggage members (each a warning from the SDK's propagator, quoting
    the client's text) and an 8 KB one are dropped before the propagator sees them."""
    hub = start_hub()
    caplog.set_level(logging.WARNING)
    bad = ",".join(f"bad member {i}" for i in range(179))
    with _http.Client(base_url=hub.url, headers=AUTH, timeout=10) as client:
        for value in (f"tenant=acme,{bad}", "k=" + "v" * 9000):
            response = client.post("/agents/nobody/heartbeat", json={}, headers={"baggage": value})
            assert response.status_code == 404
    server_span_names(telemetry, 2)
    assert [r.getMessage()[:80] for r in caplog.records] == []
