"""Running request and response hooks (see ``middleware``) for the pipeline.

A hook that raises never takes the gateway down: the request is answered with a 500
problem, the exception is recorded on the server span, and one warning is logged.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from otel_agents._exception_events import record_exception
from otel_agents._logs import redacting_logger
from otel_agents.gateway._exchange import Scope
from otel_agents.gateway._middleware import Hook
from otel_agents.gateway._models import GatewayRequest, GatewayResponse, Headers
from otel_agents.gateway._problems import Problem, problem
from otel_agents.gateway._router import RouteMatch

__all__ = ["hook_request", "run_after", "run_before"]

_logger = redacting_logger("otel_agents.gateway")

_HOOK_FAILED = problem(500, "The gateway could not process this request.")


async def run_before(
    hooks: list[Hook], request: GatewayRequest, span: trace.Span
) -> GatewayResponse | Problem | None:
    """Request hooks in order; the first answer (or failure) is the response."""
    for hook in hooks:
        try:
            answered = await hook.run_before(request)
        except Exception as exc:
            return _hook_failed(span, exc, hook)
        if answered is not None:
            return answered
    return None


async def run_after(
    hooks: list[Hook],
    request: GatewayRequest,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes | None,
    span: trace.Span,
) -> Problem | None:
    """Response hooks in order, over ``headers`` (changed in place); a failure's problem."""
    if not any(h.after for h in hooks):
        return None
    response = GatewayResponse(status, Headers.from_raw(headers), body)
    for hook in hooks:
        try:
            await hook.run_after(request, response)
        except Exception as exc:
            return _hook_failed(span, exc, hook)
    headers[:] = Headers(response.headers).raw()  # a hook may have set a plain dict
    return None


def _hook_failed(span: trace.Span, exc: Exception, hook: Hook) -> Problem:
    _logger.warning("gateway: hook %s raised %s; answering 500", hook.name, type(exc).__name__)
    if span.is_recording():
        record_exception(span, exc)  # message and stack trace redacted
        span.set_status(Status(StatusCode.ERROR, "hook_error"))
    return _HOOK_FAILED


def hook_request(scope: Scope, match: RouteMatch, path: str, client_ip: str) -> GatewayRequest:
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
