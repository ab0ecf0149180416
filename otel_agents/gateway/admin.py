"""The admin API under ``/_gateway``, protected by the admin token.

==========  ==================================  ==========================================
method      path                                what
==========  ==================================  ==========================================
GET         /_gateway/health                    liveness of the gateway itself (no token)
GET         /_gateway/services                  services, instances (URLs redacted), health
POST        /_gateway/services                  register a service (JSON, as in the config)
DELETE      /_gateway/services/{service_id}     unregister a service
GET         /_gateway/history?limit=&service_id=  recent redacted request records
==========  ==================================  ==========================================

The token goes in ``Authorization: Bearer <token>`` or ``X-Admin-Token``; it is compared in
constant time. Without a configured ``admin_token`` every admin call but ``health`` is 403.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_agents.errors import OtelAgentsError
from otel_agents.gateway.problems import PROBLEM_CONTENT_TYPE, Problem, problem

if TYPE_CHECKING:
    from otel_agents.gateway.app import APIGateway

__all__ = ["ADMIN_PREFIX", "admin_routes", "admin_template"]

ADMIN_PREFIX = "/_gateway"
_TEMPLATES = {
    "/health": "/_gateway/health",
    "/services": "/_gateway/services",
    "/history": "/_gateway/history",
}


def admin_template(path: str) -> str | None:
    """The route template of an admin path, or ``None`` when it is not an admin route."""
    rest = path[len(ADMIN_PREFIX) :]
    if rest in _TEMPLATES:
        return _TEMPLATES[rest]
    if rest.startswith("/services/") and "/" not in rest[len("/services/") :]:
        return "/_gateway/services/{service_id}"
    return None


def _as_response(item: Problem) -> Response:
    return Response(
        item.body,
        item.status,
        headers={"cache-control": "no-store"},
        media_type=PROBLEM_CONTENT_TYPE.decode(),
    )


def admin_routes(gateway: APIGateway) -> list[Route]:
    """Starlette routes of the admin API of ``gateway``."""
    token = gateway.config.admin_token
    digest = hashlib.sha256(token.encode()).digest() if token else None

    def denied(request: Request) -> Response | None:
        if digest is None:
            return _as_response(problem(403, "The admin API is disabled: no admin_token is set."))
        auth = request.headers.get("authorization", "")
        presented = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        presented = presented or request.headers.get("x-admin-token", "")
        if not presented:
            return _as_response(
                problem(
                    401,
                    "The admin API needs the admin token.",
                    headers=[(b"www-authenticate", b'Bearer realm="otel-agents-admin"')],
                )
            )
        if not hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), digest):
            return _as_response(problem(403, "The admin token is not valid."))
        return None

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def list_services(request: Request) -> Response:
        return denied(request) or JSONResponse({"services": gateway.list_services()})

    async def register(request: Request) -> Response:
        refusal = denied(request)
        if refusal is not None:
            return refusal
        try:
            document: Any = json.loads(await request.body())
            if not isinstance(document, dict):
                raise TypeError("expected a JSON object")
            service = gateway.register_from_mapping(document)
        except (ValueError, TypeError, OtelAgentsError) as exc:
            return _as_response(problem(400, _client_message(exc)))
        return JSONResponse(service, status_code=201)

    async def unregister(request: Request) -> Response:
        refusal = denied(request)
        if refusal is not None:
            return refusal
        service_id = request.path_params["service_id"]
        if not gateway.unregister_service(service_id):
            return _as_response(problem(404, "No service is registered under that id."))
        return Response(status_code=204)

    async def history(request: Request) -> Response:
        refusal = denied(request)
        if refusal is not None:
            return refusal
        try:
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            return _as_response(problem(400, "limit must be a whole number."))
        service_id = request.query_params.get("service_id") or None
        records = gateway.get_request_history(
            service_id=service_id, limit=max(1, min(limit, 10_000))
        )
        return JSONResponse({"history": records})

    return [
        Route("/health", health, methods=["GET"]),
        Route("/services", list_services, methods=["GET"]),
        Route("/services", register, methods=["POST"]),
        Route("/services/{service_id}", unregister, methods=["DELETE"]),
        Route("/history", history, methods=["GET"]),
    ]


def _client_message(exc: Exception) -> str:
    """An error message fit for the admin client (our errors already redact URLs)."""
    if isinstance(exc, OtelAgentsError):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return "The body is not valid JSON."
    return "The body must be a JSON object describing a service."
