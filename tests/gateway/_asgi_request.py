"""One HTTP request handed straight to an ASGI app (no server, no socket): for tests of the
lean server telemetry, which is ASGI middleware."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from otel_agents import semconv
from otel_agents.gateway._server_span import LeanServerTelemetry
from otel_agents.testing import TelemetryCapture

Message = MutableMapping[str, Any]


def http_scope(path: str = "/", headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    """The scope of ``GET path`` from 127.0.0.1:5555 to a server on 127.0.0.1:8000."""
    return {
        "type": "http",
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5555),
        "scheme": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [] if headers is None else headers,
    }


async def request(app: Any, scope: Any) -> list[Message]:
    """Run ``app`` for ``scope`` with an empty body; the messages it sent."""
    sent: list[Message] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def serve(app: Any, scope: Any) -> list[Message]:
    """:func:`request` in an event loop of its own."""
    return asyncio.run(request(app, scope))


def lean_telemetry(
    app: Any,
    capture: TelemetryCapture,
    *,
    tracer: Any = None,
    span_details: Any = None,
) -> LeanServerTelemetry:
    """``app`` behind the lean server telemetry recording into ``capture`` (spans through
    ``tracer`` when given); every span is named ``GET /`` unless ``span_details`` says."""
    meter = capture.meter_provider.get_meter("test")
    return LeanServerTelemetry(
        app,
        tracer=tracer or capture.tracer_provider.get_tracer("test"),
        duration=meter.create_histogram(semconv.HTTP_SERVER_REQUEST_DURATION.name, unit="s"),
        span_details=span_details or (lambda scope: ("GET /", {})),
    )
