"""The per-request pipeline of a proxied request (see ``middleware`` for the order).

This is a plain ASGI app mounted inside the gateway's Starlette app. It is written for the
hot path: one pass over the headers, cached metric attributes, no per-request objects for
hooks unless hooks are registered, small bodies read whole and sent in one write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from otel_agents import semconv
from otel_agents._exception_events import record_exception
from otel_agents.gateway._telemetry import GatewayTelemetry
from otel_agents.gateway.bodies import BodyIncomplete, BodyTimeout, BodyTooLarge, read_all
from otel_agents.gateway.errors import UpstreamBusyError, UpstreamError, UpstreamTimeoutError
from otel_agents.gateway.health import HealthPolicy
from otel_agents.gateway.history import (
    MAX_SHORT,
    MAX_TARGET,
    MAX_VALUE,
    GatewayRecord,
    clip,
    redact_headers,
    redact_query,
    redact_target,
)
from otel_agents.gateway.middleware import Authenticator, Hook, credential_header
from otel_agents.gateway.models import GatewayRequest, GatewayResponse, Headers
from otel_agents.gateway.paths import RequestPath, normalise_path
from otel_agents.gateway.problems import Problem, problem, send_problem
from otel_agents.gateway.proxy import Proxy, response_headers
from otel_agents.gateway.ratelimit import RateLimiter
from otel_agents.gateway.router import RouteMatch, Router
from otel_agents.history import BoundedHistory

__all__ = ["MATCH_KEY", "Pipeline"]

_logger = logging.getLogger("otel_agents.gateway")

MATCH_KEY = "otel_agents.gateway.match"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_NOT_FOUND = problem(404, "No service is registered for this path and version.")
_UNAVAILABLE = problem(503, "The service has no healthy instance right now; retry later.")
_BAD_GATEWAY = problem(502, "The upstream service could not be reached or answered badly.")
_TIMEOUT = problem(504, "The upstream service did not answer in time.")
_BUSY = problem(
    503,
    "The gateway's connections to the service are all busy; retry later.",
    headers=[(b"retry-after", b"1")],
)
_HOOK_FAILED = problem(500, "The gateway could not process this request.")
_BAD_LENGTH = problem(400, "The Content-Length header is not a valid number.")
_BODY_TIMEOUT = problem(
    408,
    "The request body did not arrive in time; send it without long pauses.",
    headers=[(b"connection", b"close")],
)
#: Recorded (never sent) for a request whose client went away before its body ended.
_CLIENT_CLOSED = 499
_BAD_PATH = problem(
    400,
    "The path must not contain '.' or '..' segments, an encoded '/', a '\\' or a control "
    "character.",
)


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
        client_ip = self.proxy.forwarded.client_ip(peer_ip, lookup.get(b"x-forwarded-for"))
        normalised, match = self._resolve(scope)
        span = trace.get_current_span()
        service_id = route = error_type = ""
        status = 500
        telemetry = self.telemetry
        try:
            if normalised is None:
                # A path an upstream could split or resolve differently from the router
                # would reach another service's path, past that service's auth.
                status, error_type = 400, semconv.GATEWAY_ERROR_INVALID_PATH
                await send_problem(send, _BAD_PATH)
                return
            if match is None:
                status = 404
                await send_problem(send, _NOT_FOUND)
                return
            service_id = match.service.service_id
            route = match.template
            if span.is_recording():
                span.set_attribute(semconv.GATEWAY_SERVICE_ID, service_id)
            telemetry.request_started(service_id)
            try:
                status, error_type = await self._handle(
                    scope,
                    receive,
                    send,
                    match,
                    normalised,
                    headers,
                    lookup,
                    peer_ip,
                    client_ip,
                    span,
                )
            finally:
                telemetry.request_finished(service_id)
        finally:
            duration = time.perf_counter() - start
            method = scope["method"]
            telemetry.record_request(service_id, route, method, status)
            self._remember(
                scope,
                lookup,
                method,
                route,
                service_id,
                status,
                duration,
                client_ip,
                span,
                error_type,
            )

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        match: RouteMatch,
        path: RequestPath,
        headers: list[tuple[bytes, bytes]],
        lookup: dict[bytes, bytes],
        peer_ip: str,
        client_ip: str,
        span: trace.Span,
    ) -> tuple[int, str]:
        service = match.service
        service_id = service.service_id
        denied = self.auth.check(service_id, lookup)
        if denied is not None:
            await send_problem(send, denied)
            return denied.status, ""
        decision = self.limiter.acquire(service_id, client_ip)
        extra: list[tuple[bytes, bytes]] = []
        if decision is not None:
            extra = decision.headers()
            if not decision.allowed:
                self.telemetry.record_rate_limited(service_id, decision.scope)
                refused = problem(
                    429,
                    "Too many requests for this service; retry after the delay given.",
                    headers=extra,
                )
                await send_problem(send, refused)
                return 429, ""
        request: GatewayRequest | None = None
        if self.hooks:
            request = _hook_request(scope, match, path.routed, client_ip)
            answered = await self._run_before(request, span)
            if isinstance(answered, Problem):
                await send_problem(send, answered)
                return answered.status, "hook_error"
            if answered is not None:
                await _send_complete(
                    send, answered.status_code, answered.raw_headers(), answered.body or b""
                )
                return answered.status_code, ""
        try:
            # The whole body before any upstream is contacted: a client that goes away
            # mid-body (BodyIncomplete) never reaches, nor counts against, an upstream.
            body, length = await self._body(receive, lookup)
        except BodyTooLarge:
            await send_problem(send, self._too_large)
            return 413, ""
        except ValueError:
            await send_problem(send, _BAD_LENGTH)
            return 400, ""
        except BodyTimeout:
            await send_problem(send, _BODY_TIMEOUT)
            return 408, semconv.GATEWAY_ERROR_REQUEST_TIMEOUT
        except BodyIncomplete:
            # Nobody is left to answer; 499 (as nginx logs it) marks it in the history.
            return _CLIENT_CLOSED, semconv.GATEWAY_ERROR_REQUEST_ABORTED
        instance = self.health.pick(service)
        if instance is None:
            await send_problem(send, _UNAVAILABLE)
            return 503, "no_healthy_instance"
        # The client's encoding of the very segments that were routed: the version dropped,
        # and the prefix's segments too for a service with strip_prefix.
        skip = 1 + (service.prefix.count("/") if service.strip_prefix else 0)
        target = instance.url.path + path.upstream(skip)
        query: bytes = scope.get("query_string", b"")
        if query:
            target += "?" + query.decode("latin-1")
        upstream_headers = self.proxy.request_headers(
            headers,
            instance,
            peer=peer_ip,
            scheme=scope.get("scheme", "http"),
            content_length=length,
            consumed=None
            if self.forward_credentials or not self.auth.required(service_id)
            else credential_header(lookup),
            http_version=scope.get("http_version", "1.1"),
        )
        try:
            response, client_span = await self.proxy.forward(
                service_id, instance, scope["method"], target, upstream_headers, body
            )
        except UpstreamBusyError as exc:  # the gateway's own limit: not the upstream's fault
            self.health.record_passive(service, instance, None)
            await send_problem(send, _BUSY)
            return _BUSY.status, exc.error_type
        except UpstreamError as exc:
            self.health.record_passive(service, instance, False)
            failed = _TIMEOUT if isinstance(exc, UpstreamTimeoutError) else _BAD_GATEWAY
            await send_problem(send, failed)
            return failed.status, exc.error_type
        health = self.health
        health.record_passive(service, instance, not health.status_failed(response.status))
        out_headers = response_headers(response.headers, extra)
        if request is not None:
            failed_hook = await self._run_after(
                request,
                response.status,
                out_headers,
                response.body if response.stream is None else None,
                span,
            )
            if failed_hook is not None:
                client_span.end()
                if response.stream is not None:
                    await response.stream.aclose()  # type: ignore[attr-defined]
                await send_problem(send, failed_hook)
                return 500, "hook_error"
        try:
            if response.stream is None:
                await _send_complete(send, response.status, out_headers, response.body)
            else:
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status,
                        "headers": out_headers,
                    }
                )
                try:
                    async for chunk in response.stream:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                finally:
                    await response.stream.aclose()  # type: ignore[attr-defined]
                await send({"type": "http.response.body", "body": b""})
        finally:
            client_span.end()
        return response.status, str(response.status) if response.status >= 500 else ""

    async def _body(self, receive: Receive, lookup: dict[bytes, bytes]) -> tuple[bytes, int | None]:
        """The whole request body (see ``bodies``) and the length to declare upstream."""
        declared = lookup.get(b"content-length")
        if declared is not None:
            length = int(declared)
            if length < 0:
                raise ValueError("negative Content-Length")
            if length > self.max_body_size:
                raise BodyTooLarge
            return await read_all(receive, length, self.body_timeout), length
        if b"transfer-encoding" in lookup:
            body = await read_all(receive, self.max_body_size, self.body_timeout)
            return body, len(body)
        return b"", None

    async def _run_before(
        self, request: GatewayRequest, span: trace.Span
    ) -> GatewayResponse | Problem | None:
        for hook in self.hooks:
            try:
                answered = await hook.run_before(request)
            except Exception as exc:
                return _hook_failed(span, exc, hook)
            if answered is not None:
                return answered
        return None

    async def _run_after(
        self,
        request: GatewayRequest,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        span: trace.Span,
    ) -> Problem | None:
        if not any(h.after for h in self.hooks):
            return None
        response = GatewayResponse(status, Headers.from_raw(headers), body)
        for hook in self.hooks:
            try:
                await hook.run_after(request, response)
            except Exception as exc:
                return _hook_failed(span, exc, hook)
        headers[:] = Headers(response.headers).raw()  # a hook may have set a plain dict
        return None

    def _remember(
        self,
        scope: Scope,
        lookup: dict[bytes, bytes],
        method: str,
        route: str,
        service_id: str,
        status: int,
        duration: float,
        client_ip: str,
        span: trace.Span,
        error_type: str,
    ) -> None:
        context = span.get_span_context()
        self.history.append(
            GatewayRecord(
                timestamp=time.time(),
                method=clip(method, MAX_SHORT),
                path=clip(redact_target(scope["path"]), MAX_TARGET),
                route=route,
                service_id=service_id,
                status_code=status,
                duration=duration,
                client_ip=clip(client_ip, MAX_SHORT),
                user_agent=clip(lookup.get(b"user-agent", b"").decode("latin-1"), MAX_VALUE),
                trace_id=format(context.trace_id, "032x") if context.is_valid else "",
                query=clip(
                    redact_query(scope.get("query_string", b"").decode("latin-1")), MAX_TARGET
                ),
                request_headers=redact_headers(scope["headers"]),
                error_type=error_type,
            )
        )


def _hook_failed(span: trace.Span, exc: Exception, hook: Hook) -> Problem:
    _logger.warning("gateway: hook %s raised %s; answering 500", hook.name, type(exc).__name__)
    if span.is_recording():
        record_exception(span, exc)  # message and stack trace redacted
        span.set_status(Status(StatusCode.ERROR, "hook_error"))
    return _HOOK_FAILED


def _hook_request(scope: Scope, match: RouteMatch, path: str, client_ip: str) -> GatewayRequest:
    """The hooks' view of the request; ``path`` is the normalised one that was routed."""
    from urllib.parse import parse_qsl

    query = scope.get("query_string", b"").decode("latin-1")
    return GatewayRequest(
        method=scope["method"],
        path=path,
        route=match.template,
        service_id=match.service.service_id,
        headers=Headers.from_raw(scope["headers"]),
        query_params=dict(parse_qsl(query, keep_blank_values=True)),
        client_ip=client_ip,
    )


async def _send_complete(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
