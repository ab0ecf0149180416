"""Real uvicorn servers on 127.0.0.1 for the gateway tests, started in threads."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from _ports import free_port as free_port
from _servers import ThreadServer
from _waits import eventually
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from otel_agents.gateway import APIGateway
from otel_agents.testing import TelemetryCapture


@dataclass
class UpstreamState:
    """What the upstream saw, and switches the tests flip."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    healthy: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Set when the test has seen what it needed of a ``/slow`` answer: it comes at once
    #: (instead of after its full second), so nothing waits for it at teardown.
    released: threading.Event = field(default_factory=threading.Event)

    def seen(self, request: Request, body: bytes = b"") -> None:
        with self.lock:
            self.requests.append(
                {
                    "path": request.url.path,
                    "client_port": request.client.port if request.client else None,
                    "raw_path": request.scope.get("raw_path"),
                    "query": request.url.query,
                    "headers": list(request.headers.raw),
                    "body": body,
                }
            )

    def header_names(self, index: int = -1) -> set[str]:
        return {n.decode().lower() for n, _ in self.requests[index]["headers"]}

    def header(self, name: str, index: int = -1) -> str | None:
        for n, v in self.requests[index]["headers"]:
            if n.decode().lower() == name:
                return str(v.decode())
        return None


def upstream_app(state: UpstreamState) -> Starlette:
    async def users(request: Request) -> Response:
        state.seen(request)
        return JSONResponse({"id": request.path_params["rest"], "name": "Ada"})

    async def echo(request: Request) -> Response:
        body = await request.body()
        state.seen(request, body)
        return Response(body, headers={"x-echo-length": str(len(body))})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": state.healthy}, status_code=200 if state.healthy else 503)

    async def slow(request: Request) -> Response:
        state.seen(request)
        for _ in range(200):  # 1 s, unless released sooner
            if state.released.is_set():
                break
            await asyncio.sleep(0.005)
        return Response(b"late")

    async def fail(request: Request) -> Response:
        state.seen(request)
        return Response(b"internal detail: db at 10.0.0.5", status_code=500)

    async def stream(request: Request) -> Response:
        state.seen(request)

        async def chunks() -> Any:
            for i in range(64):
                yield bytes([65 + i % 26]) * 8192

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    async def hop(request: Request) -> Response:
        state.seen(request)
        return Response(
            b"hop",
            headers={
                "connection": "x-internal-hop",
                "x-internal-hop": "secret-route",
                "keep-alive": "timeout=5",
                "x-kept": "yes",
            },
        )

    return Starlette(
        routes=[
            Route("/users/{rest:path}", users),
            Route("/users", users, name="users-root"),
            Route("/echo", echo, methods=["GET", "POST", "PUT"]),
            Route("/health", health),
            Route("/slow", slow),
            Route("/fail", fail),
            Route("/stream", stream),
            Route("/hop", hop),
        ]
    )


@pytest.fixture
def upstream_state() -> UpstreamState:
    return UpstreamState()


@pytest.fixture
def upstream(telemetry: TelemetryCapture, upstream_state: UpstreamState) -> Iterator[ThreadServer]:
    """An instrumented Starlette upstream sharing the test's tracer provider."""
    app = OpenTelemetryMiddleware(
        upstream_app(upstream_state),
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        exclude_spans=["receive", "send"],
    )
    server = ThreadServer(app).start()
    yield server
    upstream_state.released.set()
    server.stop()


@pytest.fixture
def make_gateway(telemetry: TelemetryCapture) -> Iterator[Any]:
    """Build gateways on the test's providers; closes them (and their servers) after."""
    made: list[APIGateway] = []
    servers: list[ThreadServer] = []

    def make(config: dict[str, Any] | None = None, **kwargs: Any) -> APIGateway:
        gateway = APIGateway(
            config,
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            **kwargs,
        )
        made.append(gateway)
        return gateway

    def serve(gateway: APIGateway, **options: Any) -> ThreadServer:
        server = ThreadServer(gateway.app, **options).start()
        servers.append(server)
        return server

    make.serve = serve  # type: ignore[attr-defined]
    yield make
    for server in servers:
        server.stop()
    for gateway in made:
        gateway.close()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (bounded) until ``condition()`` is true."""
    eventually(condition, "the condition", timeout, poll=0.01)


def wait_for_spans(telemetry: TelemetryCapture, *names: str, timeout: float = 5.0) -> None:
    """Wait (bounded) until spans with these names have ended.

    A server ends its span just after sending the last byte, so a client can hold the
    response a moment before the span is exported.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(telemetry.spans(name) for name in names):
            return
        time.sleep(0.005)
    raise AssertionError(f"spans {names} did not end; have {[s.name for s in telemetry.spans()]}")


def history_after(gateway: APIGateway, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The gateway's history once it holds ``count`` records (bounded wait).

    The gateway records a request just after its last byte is sent, so an HTTP client can
    hold the response a moment before the record exists.
    """
    deadline = time.monotonic() + timeout
    while len(records := gateway.get_request_history()) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"history has {len(records)} records, expected {count}")
        time.sleep(0.005)
    return records
