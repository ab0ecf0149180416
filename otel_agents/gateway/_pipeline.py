"""The per-request pipeline of a proxied request (see ``middleware`` for the order).

This is a plain ASGI app mounted inside the gateway's Starlette app. Each request is one
:class:`~otel_agents.gateway._exchange.Exchange` that the steps (admit, hooks, body,
forward, respond) read and fill in turn; metrics and the history record its outcome. It
is written for the hot path: one pass over the headers, cached metric attributes, no
per-request objects for hooks unless hooks are registered, small bodies read whole and
sent in one write.
"""

from __future__ import annotations

import time

from opentelemetry import trace

from otel_agents import semconv
from otel_agents._history import BoundedHistory
from otel_agents.gateway._bodies import (
    BodyFraming,
    BodyIncomplete,
    BodyTimeout,
    BodyTooLarge,
    read_request_body,
)
from otel_agents.gateway._client import UpstreamResponse
from otel_agents.gateway._errors import (
    InvalidRequestHeadError,
    UpstreamBusyError,
    UpstreamError,
    UpstreamTimeoutError,
)
from otel_agents.gateway._exchange import Exchange, Receive, Scope, Send
from otel_agents.gateway._health import HealthPolicy
from otel_agents.gateway._history import (
    MAX_SHORT,
    MAX_TARGET,
    MAX_VALUE,
    GatewayRecord,
    clip,
    redact_headers,
    redact_query,
    redact_target,
)
from otel_agents.gateway._hooks import hook_request, run_after, run_before
from otel_agents.gateway._middleware import Authenticator, Hook, credential_header
from otel_agents.gateway._paths import RequestPath, normalise_path
from otel_agents.gateway._problems import (
    BAD_FRAMING,
    BAD_GATEWAY,
    BAD_HEADER,
    BAD_LENGTH,
    BAD_PATH,
    BODY_TIMEOUT,
    BUSY,
    NOT_FOUND,
    UNAVAILABLE,
    UPSTREAM_TIMEOUT,
    Problem,
    problem,
)
from otel_agents.gateway._proxy import Proxy, response_headers
from otel_agents.gateway._ratelimit import RateLimiter
from otel_agents.gateway._relay import relay, server_abort
from otel_agents.gateway._router import RouteMatch, Router
from otel_agents.gateway._server_span import record_error_type
from otel_agents.gateway._telemetry import GatewayTelemetry, mark_failed

__all__ = ["MATCH_KEY", "SERVICE_ON_SPAN", "Pipeline"]

MATCH_KEY = "otel_agents.gateway.match"
#: Set in the scope when the server span was started with ``gateway.service.id``.
SERVICE_ON_SPAN = "otel_agents.gateway.service_on_span"


#: Recorded (never sent) for a request whose client went away before its body ended.
_CLIENT_CLOSED = 499


class Pipeline:
    """Route, authenticate, rate-limit, run hooks, check the body, proxy, record."""

    def __init__(
        self,
        *,
        router: Router,
        limiter: RateLimiter,
        auth: Authenticator,
        hooks: list[Hook],
        proxy: Proxy,
        health: HealthPolicy,
        telemetry: GatewayTelemetry,
        history: BoundedHistory[GatewayRecord],
        max_body_size: int,
        forward_credentials: bool = False,
        body_timeout: float = 30.0,
    ) -> None:
        self.router = router
        self.limiter = limiter
        self.auth = auth
        self.hooks = hooks
        self.proxy = proxy
        self.health = health
        self.telemetry = telemetry
        self.history = history
        self.max_body_size = max_body_size
        self.forward_credentials = forward_credentials
        self.body_timeout = body_timeout
        self._too_large = problem(
            413, f"The request body is larger than the gateway's limit of {max_body_size} bytes."
        )

    def match(self, scope: Scope) -> RouteMatch | None:
        """Route ``scope``, caching the result on it (the span namer routes first)."""
        return self._resolve(scope)[1]

    def _resolve(self, scope: Scope) -> tuple[RequestPath | None, RouteMatch | None]:
        """The normalised path (``None``: refused) and its route, cached on ``scope``."""
        path = scope["path"]
        raw_path = scope.get("raw_path")
        cached = scope.get(MATCH_KEY)
        if cached is not None and cached[0] == path and cached[1] == raw_path:
            return cached[2], cached[3]
        normalised = normalise_path(raw_path, path)
        found = None if normalised is None else self.router.match(normalised.routed)
        scope[MATCH_KEY] = (path, raw_path, normalised, found)
        return normalised, found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        lookup = dict(headers)
        peer = scope.get("client")
        peer_ip = peer[0] if peer else "unknown"
        exchange = Exchange(
            scope,
            receive,
            send,
            start,
            headers,
            lookup,
            peer_ip,
            self.proxy.forwarded.client_ip(peer_ip, lookup.get(b"x-forwarded-for")),
            trace.get_current_span(),
        )
        exchange.path, exchange.match = self._resolve(scope)
        telemetry = self.telemetry
        try:
            if exchange.path is None:
                # A path an upstream could split or resolve differently from the router
                # would reach another service's path, past that service's auth.
                await exchange.refuse(BAD_PATH, semconv.GATEWAY_ERROR_INVALID_PATH)
                return
            if exchange.match is None:
                await exchange.refuse(NOT_FOUND)
                return
            service_id = exchange.service_id
            if not scope.get(SERVICE_ON_SPAN) and exchange.span.is_recording():
                exchange.span.set_attribute(semconv.GATEWAY_SERVICE_ID, service_id)
            telemetry.request_started(service_id)
            try:
                await self._handle(exchange)
            finally:
                telemetry.request_finished(service_id)
        finally:
            duration = time.perf_counter() - start
            telemetry.record_request(
                exchange.service_id, exchange.route, exchange.method, exchange.status
            )
            self._remember(exchange, duration)

    async def _handle(self, exchange: Exchange) -> None:
        """Admit, run hooks, read the body, forward: each step may answer on its own."""
        if not await self._admit(exchange):
            return
        if self.hooks and not await self._before(exchange):
            return
        if not await self._read_body(exchange):
            return
        forwarded = await self._forward(exchange)
        if forwarded is not None:
            await self._respond(exchange, *forwarded)

    async def _admit(self, exchange: Exchange) -> bool:
        """Authentication, then the rate limit (whose headers every answer carries)."""
        assert exchange.match is not None
        service_id = exchange.service_id
        # The keys of the service the router matched, not a lookup by id: a registration
        # or unregistration in another thread cannot open a window without keys.
        denied = self.auth.check(exchange.match.service.api_keys, exchange.lookup)
        if denied is not None:
            await exchange.refuse(denied)
            return False
        decision = self.limiter.acquire(service_id, exchange.client_ip)
        if decision is not None:
            exchange.extra_headers = decision.headers()
            if not decision.allowed:
                self.telemetry.record_rate_limited(service_id, decision.scope)
                refused = problem(
                    429,
                    "Too many requests for this service; retry after the delay given.",
                    headers=exchange.extra_headers,
                )
                await exchange.refuse(refused)
                return False
        return True

    async def _before(self, exchange: Exchange) -> bool:
        """Request hooks: one may answer (or fail) instead of the upstream."""
        assert exchange.match is not None
        assert exchange.path is not None
        exchange.request = hook_request(
            exchange.scope, exchange.match, exchange.path.routed, exchange.client_ip
        )
        answered = await run_before(self.hooks, exchange.request, exchange.span)
        if isinstance(answered, Problem):
            await exchange.refuse(answered, "hook_error")
            return False
        if answered is not None:
            await exchange.answer(
                answered.status_code, answered.raw_headers(), answered.body or b""
            )
            return False
        return True

    async def _read_body(self, exchange: Exchange) -> bool:
        """The whole body before any upstream is contacted: a client that goes away
        mid-body (BodyIncomplete) never reaches, nor counts against, an upstream."""
        try:
            if b"content-length" in exchange.lookup or b"transfer-encoding" in exchange.lookup:
                exchange.body, exchange.length = await read_request_body(
                    exchange.receive, exchange.headers, self.max_body_size, self.body_timeout
                )
        except BodyTooLarge:
            await exchange.refuse(self._too_large)
        except BodyFraming:
            await exchange.refuse(BAD_FRAMING)
        except ValueError:
            await exchange.refuse(BAD_LENGTH)
        except BodyTimeout:
            await exchange.refuse(BODY_TIMEOUT, semconv.GATEWAY_ERROR_REQUEST_TIMEOUT)
        except BodyIncomplete:
            # Nobody is left to answer; 499 (as nginx logs it) marks it in the history.
            exchange.outcome(_CLIENT_CLOSED, semconv.GATEWAY_ERROR_REQUEST_ABORTED)
        else:
            return True
        return False

    async def _forward(self, exchange: Exchange) -> tuple[UpstreamResponse, trace.Span] | None:
        """Pick a healthy instance and send the request; ``None`` once answered here."""
        assert exchange.match is not None
        assert exchange.path is not None
        service = exchange.match.service
        instance = exchange.instance = self.health.pick(service)
        if instance is None:
            await exchange.refuse(UNAVAILABLE, "no_healthy_instance")
            return None
        scope = exchange.scope
        # The client's encoding of the very segments that were routed: the version dropped,
        # and the prefix's segments too for a service with strip_prefix.
        skip = 1 + (service.prefix.count("/") if service.strip_prefix else 0)
        target = instance.url.path + exchange.path.upstream(skip)
        query: bytes = scope.get("query_string", b"")
        if query:
            target += "?" + query.decode("latin-1")
        upstream_headers = self.proxy.request_headers(
            exchange.headers,
            instance,
            peer=exchange.peer_ip,
            scheme=scope.get("scheme", "http"),
            content_length=exchange.length,
            consumed=None
            if self.forward_credentials or not self.auth.required(service.api_keys)
            else credential_header(exchange.lookup),
            http_version=scope.get("http_version", "1.1"),
        )
        try:
            return await self.proxy.forward(
                service.service_id,
                instance,
                scope["method"],
                target,
                upstream_headers,
                exchange.body,
            )
        except InvalidRequestHeadError as exc:  # the client's doing; nothing went upstream
            await exchange.refuse(BAD_HEADER, exc.error_type)
        except UpstreamBusyError as exc:  # the gateway's own limit: not the upstream's fault
            self.health.record_passive(service, instance, None)
            await exchange.refuse(BUSY, exc.error_type)
        except UpstreamError as exc:
            self.health.record_passive(service, instance, False)
            failed = UPSTREAM_TIMEOUT if isinstance(exc, UpstreamTimeoutError) else BAD_GATEWAY
            await exchange.refuse(failed, exc.error_type)
        return None

    async def _respond(
        self, exchange: Exchange, response: UpstreamResponse, client_span: trace.Span
    ) -> None:
        """Response hooks, then the upstream's answer to the client; ends the CLIENT span.

        A streamed answer's passive health check waits for the relay's end: an upstream
        that breaks off mid-body fails it, a client that leaves says nothing."""
        assert exchange.match is not None
        assert exchange.instance is not None
        health = self.health
        status = response.status
        stream = response.stream
        failed = health.status_failed(status)
        pending = stream is not None and not failed
        verdict: bool | None = None  # what a pending check records (a cancellation: nothing)
        if not pending:
            health.record_passive(exchange.match.service, exchange.instance, not failed)
        out_headers = response_headers(response.headers, exchange.extra_headers, status)
        error_type = str(status) if status >= 500 else ""
        try:
            if exchange.request is not None:
                failed_hook = await run_after(
                    self.hooks,
                    exchange.request,
                    status,
                    out_headers,
                    response.body if stream is None else None,
                    exchange.span,
                )
                if failed_hook is not None:
                    verdict = True  # the upstream answered; the gateway's hook failed
                    client_span.end()
                    await exchange.refuse(failed_hook, "hook_error")
                    return
            try:
                if stream is None:
                    await exchange.answer(status, out_headers, response.body)
                else:
                    exchange.status = status
                    ended = await relay(
                        exchange.send,
                        exchange.receive,
                        status,
                        out_headers,
                        stream,
                        self.proxy.client.read_timeout,
                        server_abort(exchange.scope),
                    )
                    verdict = not ended.error_type or (False if ended.upstream else None)
                    if ended.upstream is not None:  # the CLIENT span and error count say so
                        mark_failed(client_span, ended.error_type)
                        self.telemetry.record_broken_body(
                            exchange.service_id,
                            exchange.method,
                            exchange.instance,
                            status,
                            ended.error_type,
                        )
                    if ended.error_type:
                        error_type = ended.error_type
                        mark_failed(exchange.span, error_type)
                        record_error_type(exchange.scope, error_type)
            finally:
                client_span.end()
        finally:
            # Whatever happened (a failed or cancelled hook, a refused response start, a
            # client gone mid-body), an unread stream's connection is released; aclose() is
            # idempotent.
            if stream is not None:
                await stream.aclose()
            if pending:
                health.record_passive(exchange.match.service, exchange.instance, verdict)
        exchange.outcome(status, error_type)

    def _remember(self, exchange: Exchange, duration: float) -> None:
        scope = exchange.scope
        context = exchange.span.get_span_context()
        self.history.append(
            GatewayRecord(
                timestamp=time.time(),
                method=clip(exchange.method, MAX_SHORT),
                path=clip(redact_target(scope["path"]), MAX_TARGET),
                route=exchange.route,
                service_id=exchange.service_id,
                status_code=exchange.status,
                duration=duration,
                client_ip=clip(exchange.client_ip, MAX_SHORT),
                user_agent=clip(
                    exchange.lookup.get(b"user-agent", b"").decode("latin-1"), MAX_VALUE
                ),
                trace_id=format(context.trace_id, "032x") if context.is_valid else "",
                query=clip(
                    redact_query(scope.get("query_string", b"").decode("latin-1")), MAX_TARGET
                ),
                request_headers=redact_headers(exchange.headers),
                error_type=exchange.error_type,
            )
        )
