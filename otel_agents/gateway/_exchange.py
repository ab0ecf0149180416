"""One proxied request on its way through the pipeline: the ``Exchange``.

Every step of ``pipeline.Pipeline`` reads what earlier steps found from the exchange and
writes what it finds there: the scope's headers read once, the peer and client addresses,
the normalised path (``paths``) and its route, the rate-limit headers, the hooks' view of
the request, the whole body (``bodies``) and its declared length, the upstream instance,
and the outcome (status and ``error.type``) that the metrics and the history record. A
step that answers the client itself says so with :meth:`Exchange.refuse`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace

from otel_agents.gateway._models import GatewayRequest
from otel_agents.gateway._paths import RequestPath
from otel_agents.gateway._problems import Problem, send_problem
from otel_agents.gateway._registry import Instance
from otel_agents.gateway._router import RouteMatch

__all__ = ["Exchange", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
RawHeaders = list[tuple[bytes, bytes]]


@dataclass(slots=True, eq=False)
class Exchange:
    """The state of one proxied request (see the module docstring)."""

    scope: Scope
    receive: Receive
    send: Send
    #: ``time.perf_counter()`` when the pipeline took the request.
    start: float
    #: The request headers as received (lower-case names, repeats kept) and the last
    #: value of each name.
    headers: RawHeaders
    lookup: dict[bytes, bytes]
    #: The TCP peer, and the client behind trusted proxies (``X-Forwarded-For``).
    peer_ip: str
    client_ip: str
    #: The server span of the request (non-recording without telemetry).
    span: trace.Span
    #: The normalised path (``None``: refused) and its route (``None``: no service).
    path: RequestPath | None = None
    match: RouteMatch | None = None
    #: Response headers the gateway adds (rate-limit headers).
    extra_headers: RawHeaders = field(default_factory=list)
    #: The hooks' view of the request, built only when hooks are registered.
    request: GatewayRequest | None = None
    #: The whole request body and the Content-Length to declare upstream.
    body: bytes = b""
    length: int | None = None
    instance: Instance | None = None
    #: The outcome: what metrics and the history record.
    status: int = 500
    error_type: str = ""

    @property
    def service_id(self) -> str:
        return self.match.service.service_id if self.match is not None else ""

    @property
    def route(self) -> str:
        return self.match.template if self.match is not None else ""

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    def outcome(self, status: int, error_type: str = "") -> None:
        """Record the request's status and ``error.type`` without answering."""
        self.status = status
        self.error_type = error_type

    async def refuse(self, problem: Problem, error_type: str = "") -> None:
        """Answer the client with ``problem`` and record it as the outcome."""
        self.status = problem.status
        self.error_type = error_type
        await send_problem(self.send, problem)

    async def answer(self, status: int, headers: RawHeaders, body: bytes) -> None:
        """Send a complete response in two messages and record its status."""
        self.status = status
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
