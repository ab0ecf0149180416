"""Authentication and the user middleware chain.

Order of a proxied request (outermost first)::

    server telemetry (lean, or OpenTelemetryMiddleware: server_instrumentation)
                                        server span, http.server.request.duration
    ASGI middleware, in the order added  (the first added sees the request first)
    route        404 when no service matches
    authenticate 401 without credentials, 403 with wrong ones
    rate limit   429 with Retry-After and RateLimit-*
    request hooks, in the order added (one may answer instead of the upstream)
    body limit   413 before the upstream is contacted
    proxy        502 / 503 / 504 on upstream failure
    response hooks, in the order added

``add_middleware`` takes an ASGI middleware class (Starlette style, ``cls(app, **options)``),
a ``starlette.middleware.Middleware``, an object with ``before_request(request)`` and/or
``after_response(request, response)`` methods, or a plain function (a request hook). Hooks
may be sync or async. A hook that raises turns into a 500 problem response and an exception
recorded on the server span; the worker carries on.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.middleware import Middleware

from otel_agents._errors import invalid_type
from otel_agents.gateway._models import GatewayRequest, GatewayResponse
from otel_agents.gateway._problems import Problem, problem

__all__ = ["Authenticator", "Hook", "classify_middleware", "credential_header", "key_digests"]

HookResult = GatewayResponse | None


def key_digests(keys: Iterable[str]) -> tuple[bytes, ...]:
    """The SHA-256 digests a service keeps of its API keys (never the keys)."""
    return tuple(hashlib.sha256(k.encode()).digest() for k in keys)


class Authenticator:
    """API keys or bearer tokens, global or per service, compared in constant time.

    A request presents ``Authorization: Bearer <token>`` or ``X-API-Key: <key>``. A service
    with keys of its own accepts those and the global ones. The header the gateway checked
    is not forwarded to the upstream (the key is the gateway's, not the upstream's) unless
    ``forward_client_credentials`` is set. Keys are kept only as SHA-256
    digests, and every presented credential is compared with every key, so neither timing
    nor memory dumps give a key away.

    A service's own keys are not kept here: they live on the
    :class:`~otel_agents.gateway._registry.Service` the router matched and are passed in
    (``service_keys``), so a request is checked against the keys of the very service it
    was routed to, whatever registration or unregistration happens meanwhile in another
    thread (a second table looked up by id had a window with no keys in it).
    """

    def __init__(self, global_keys: Iterable[str] = ()) -> None:
        self._global = list(key_digests(global_keys))
        self._missing = problem(
            401,
            "This service needs credentials: an Authorization: Bearer token or an X-API-Key.",
            headers=[(b"www-authenticate", b'Bearer realm="otel-agents-gateway"')],
        )
        self._forbidden = problem(403, "The credentials given do not grant access to this service.")

    def required(self, service_keys: Sequence[bytes]) -> bool:
        """Whether a service holding ``service_keys`` needs credentials."""
        return bool(self._global) or bool(service_keys)

    def check(
        self, service_keys: Sequence[bytes], headers: Mapping[bytes, bytes]
    ) -> Problem | None:
        """``None`` when the request may pass, else the 401 or 403 problem to answer.
        ``service_keys``: the key digests of the service the request was routed to."""
        keys = [*self._global, *service_keys]
        if not keys:
            return None
        presented = presented_credential(headers)
        if presented is None:
            return self._missing
        digest = hashlib.sha256(presented).digest()
        granted = False
        for key in keys:
            granted |= hmac.compare_digest(digest, key)
        return None if granted else self._forbidden


def presented_credential(headers: Mapping[bytes, bytes]) -> bytes | None:
    """The bearer token or API key a request presents, if any."""
    found = credential_header(headers)
    if found == b"authorization":
        return headers[found].partition(b" ")[2].strip()
    return headers[found].strip() if found else None


def credential_header(headers: Mapping[bytes, bytes]) -> bytes | None:
    """The name of the header whose credential the gateway checks: ``authorization`` for a
    bearer token, else ``x-api-key``; ``None`` when the request presents neither."""
    auth = headers.get(b"authorization")
    if auth is not None:
        scheme, _, token = auth.partition(b" ")
        if scheme.lower() == b"bearer" and token.strip():
            return b"authorization"
    key = headers.get(b"x-api-key")
    if key and key.strip():
        return b"x-api-key"
    return None


@dataclass
class Hook:
    """A request/response hook pair; either side may be absent."""

    before: Callable[[GatewayRequest], Any] | None
    after: Callable[[GatewayRequest, GatewayResponse], Any] | None
    name: str

    async def run_before(self, request: GatewayRequest) -> HookResult:
        if self.before is None:
            return None
        result = self.before(request)
        if inspect.isawaitable(result):
            result = await result
        if result is not None and not isinstance(result, GatewayResponse):
            raise TypeError(
                f"request hook {self.name} returned {type(result).__name__}; "
                "return None to continue or a GatewayResponse to answer"
            )
        return result

    async def run_after(self, request: GatewayRequest, response: GatewayResponse) -> None:
        if self.after is None:
            return
        result = self.after(request, response)
        if inspect.isawaitable(result):
            await result


def classify_middleware(middleware: Any, options: dict[str, Any]) -> Middleware | Hook:
    """Turn an ``add_middleware`` argument into an ASGI ``Middleware`` or a :class:`Hook`."""
    if isinstance(middleware, Middleware):
        return middleware
    if inspect.isclass(middleware):
        return Middleware(middleware, **options)  # type: ignore[arg-type]
    before = getattr(middleware, "before_request", None)
    after = getattr(middleware, "after_response", None)
    name = getattr(middleware, "__qualname__", type(middleware).__qualname__)
    if callable(before) or callable(after):
        return Hook(before if callable(before) else None, after if callable(after) else None, name)
    if callable(middleware):
        return Hook(middleware, None, name)
    raise invalid_type(
        "middleware",
        middleware,
        "an ASGI middleware class, a starlette Middleware, a function taking a "
        "GatewayRequest, or an object with before_request/after_response methods",
    )
