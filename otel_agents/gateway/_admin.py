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

Bad input is a 400 problem, never a 500: a body that is not JSON, nested deeper than
:data:`MAX_DEPTH` or larger than :data:`MAX_BODY` (413), and upstreams at link-local or
cloud metadata addresses unless ``allow_link_local_upstreams`` (see ``addresses``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_agents._errors import OtelAgentsError
from otel_agents.gateway._addresses import forbidden_host, resolves_to_forbidden
from otel_agents.gateway._problems import PROBLEM_CONTENT_TYPE, Problem, problem
from otel_agents.gateway._registry import parse_upstream_url

__all__ = [
    "ADMIN_PREFIX",
    "MAX_BODY",
    "MAX_DEPTH",
    "TOKEN_ACCEPTED",
    "ServiceAdmin",
    "admin_routes",
    "admin_template",
]

ADMIN_PREFIX = "/_gateway"
#: Scope key of a list the admin API appends ``True`` to once it accepted the admin token.
#: The audit names the actor from it, never from the status code: Starlette answers 404 and
#: 405 before any token check. A list, so that shallow copies of the scope share it.
TOKEN_ACCEPTED = "otel_agents.gateway.admin_token_accepted"
#: Largest registration body read, in bytes (a service description is a few hundred).
MAX_BODY = 1024 * 1024
#: Deepest nesting of arrays/objects accepted in a registration (metadata included).
MAX_DEPTH = 32
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


class ServiceAdmin(Protocol):
    """All the admin API may do to a gateway (``APIGateway`` is one)."""

    def list_services(self) -> list[dict[str, Any]]: ...

    def register_from_mapping(
        self, entry: Mapping[str, Any], *, checked: bool = False
    ) -> dict[str, Any]: ...

    def unregister_service(self, service_id: str) -> bool: ...

    def get_request_history(
        self, *, service_id: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]: ...


def admin_routes(
    gateway: ServiceAdmin,
    *,
    admin_token: str | None,
    allow_link_local_upstreams: bool = False,
) -> list[Route]:
    """Starlette routes of the admin API over ``gateway``, guarded by ``admin_token``
    (``None``: every call but ``health`` is refused)."""
    token = admin_token
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
        accepted = request.scope.get(TOKEN_ACCEPTED)
        if isinstance(accepted, list):
            accepted.append(True)
        return None

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def list_services(request: Request) -> Response:
        return denied(request) or JSONResponse({"services": gateway.list_services()})

    async def register(request: Request) -> Response:
        refusal = denied(request)
        if refusal is not None:
            return refusal
        body = await _read_body(request)
        if body is None:
            return _as_response(
                problem(413, f"The registration body is larger than {MAX_BODY} bytes.")
            )
        try:
            document: Any = json.loads(body)
        except RecursionError:
            return _as_response(problem(400, _TOO_DEEP))
        except ValueError as exc:
            return _as_response(problem(400, _client_message(exc)))
        if not isinstance(document, dict):
            return _as_response(problem(400, _client_message(TypeError())))
        if _too_deep(document):
            return _as_response(problem(400, _TOO_DEEP))
        if not allow_link_local_upstreams:
            refused = await _link_local(document)
            if refused is not None:
                return _as_response(problem(400, refused))
        try:
            # Checked again at each connect (DNS rebinding), unless link-local is allowed.
            service = gateway.register_from_mapping(
                document, checked=not allow_link_local_upstreams
            )
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


_TOO_DEEP = f"The body nests arrays or objects deeper than {MAX_DEPTH} levels."


async def _read_body(request: Request) -> bytes | None:
    """The request body, or ``None`` once it passes :data:`MAX_BODY`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _too_deep(document: Any) -> bool:
    """Whether ``document`` nests deeper than :data:`MAX_DEPTH` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return False


async def _link_local(document: dict[str, Any]) -> str | None:
    """Why the upstreams of ``document`` are refused, or ``None`` when they are not."""
    urls: list[Any] = []
    for key in ("base_url", "base_urls", "health_check_url"):
        value = document.get(key)
        urls.extend(value if isinstance(value, list) else [value])
    for value in urls:
        if not isinstance(value, str) or value.startswith("/"):
            continue  # a health path joins a base URL, checked itself; others fail later
        try:
            url = parse_upstream_url("base_url", value)
        except ValueError:
            continue  # registration answers this one with its own 400
        if forbidden_host(url.host) or await resolves_to_forbidden(url.host, url.port):
            return (
                f"The upstream host {url.host!r} is a link-local or cloud metadata address; "
                "the admin API refuses it unless the gateway setting "
                "allow_link_local_upstreams is true."
            )
    return None


def _client_message(exc: Exception) -> str:
    """An error message fit for the admin client (our errors already redact URLs)."""
    if isinstance(exc, OtelAgentsError):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return "The body is not valid JSON."
    return "The body must be a JSON object describing a service."
