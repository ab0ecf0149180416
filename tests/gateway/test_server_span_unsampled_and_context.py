"""The lean server telemetry's duration without a sampled span, and the context it leaves.

A sampler that drops the request's span must not drop what the duration metric says: an
unsampled 5xx is still an error on ``http.server.request.duration`` (alerts and the error
rate read it). And a request runs in the context the middleware attached, which must be
detached when it returns, or the caller's next spans nest under an ended request span.
Driven in process with ASGI messages or Starlette's TestClient (no sockets).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler
from starlette.testclient import TestClient

from otel_agents import semconv
from otel_agents.gateway import APIGateway
from otel_agents.gateway._server_span import LeanServerTelemetry
from otel_agents.testing import TelemetryCapture

from ._asgi_request import http_scope, lean_telemetry, request


async def _answer(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """Answers with the status named by the path (``/503``)."""
    await send({"type": "http.response.start", "status": int(scope["path"][1:]), "headers": []})
    await send({"type": "http.response.body", "body": b"x"})


async def _request(app: LeanServerTelemetry, path: str) -> None:
    await request(app, http_scope(path))


@pytest.fixture
def capture() -> Iterator[TelemetryCapture]:
    found = TelemetryCapture()
    yield found
    found.shutdown()


def _lean(capture: TelemetryCapture, sampler: Sampler) -> LeanServerTelemetry:
    tracer = TracerProvider(sampler=sampler).get_tracer("test")
    return lean_telemetry(_answer, capture, tracer=tracer, span_details=lambda scope: ("GET", {}))


def _error_types(capture: TelemetryCapture) -> list[object]:
    points = capture.points(semconv.HTTP_SERVER_REQUEST_DURATION.name)
    return sorted(str(p.attributes.get(semconv.ERROR_TYPE)) for p in points)


@pytest.mark.parametrize("sampler", [ALWAYS_OFF, ALWAYS_ON], ids=["unsampled", "sampled"])
def test_a_5xx_has_error_type_on_the_duration_whether_or_not_its_span_is_sampled(
    capture: TelemetryCapture, sampler: Sampler
) -> None:
    app = _lean(capture, sampler)

    asyncio.run(_request(app, "/503"))

    assert _error_types(capture) == ["503"]


def test_an_unsampled_success_has_no_error_type_on_the_duration(
    capture: TelemetryCapture,
) -> None:
    app = _lean(capture, ALWAYS_OFF)

    asyncio.run(_request(app, "/200"))
    asyncio.run(_request(app, "/404"))  # a client error is not a server error

    assert _error_types(capture) == ["None", "None"]


def test_after_a_request_no_span_is_left_current(capture: TelemetryCapture) -> None:
    app = _lean(capture, ALWAYS_ON)

    async def main() -> trace.Span:
        await _request(app, "/200")
        return trace.get_current_span()

    assert asyncio.run(main()) is trace.INVALID_SPAN


def test_after_a_request_the_callers_current_span_is_current_again(
    capture: TelemetryCapture,
) -> None:
    app = _lean(capture, ALWAYS_ON)
    outer = capture.tracer_provider.get_tracer("test").start_span("outer")

    async def main() -> tuple[trace.Span, trace.Span]:
        with trace.use_span(outer, end_on_exit=True):
            await _request(app, "/200")
            during = trace.get_current_span()
            await _request(app, "/503")
            return during, trace.get_current_span()

    assert asyncio.run(main()) == (outer, outer)


def test_a_scope_whose_server_is_a_list_is_served() -> None:
    """The ASGI spec allows any two-item iterable for ``server`` (Starlette's TestClient
    sends a list): the lean telemetry's per-server cache must not fail on it."""
    gateway = APIGateway(tracer_provider=TracerProvider(), meter_provider=MeterProvider())
    try:
        with TestClient(gateway.app) as client:
            assert client.get("/nothing-registered").status_code == 404
    finally:
        gateway.close()
