"""The request target as ``OpenTelemetryMiddleware`` sees it: secrets masked before the span starts.

A span's attributes at its start go to the sampler (``should_sample``) and to every
``SpanProcessor.on_start``: a request hook that rewrites ``url.query`` after the start
comes too late for them, and a sampler or processor that logs or forwards what it sees
would leak ``?access_token=...``. The lean server telemetry builds its attributes already
redacted (``_server_span``). The contrib middleware reads them straight from the scope,
so in ``server_instrumentation = "contrib"`` it is handed a copy of the scope whose
``path`` and ``query_string`` have token-like query and ``;`` matrix parameters masked
(:class:`RedactedScope`, outside the middleware), and :class:`RestoredScope` (inside it)
gives the gateway back the target exactly as the client sent it. Both are plain ASGI
middleware using the public ASGI contract only; ``raw_path`` (what routing and the
upstream use) is never changed.

The same copy shows the middleware the request's ``baggage`` checked first
(:func:`~otel_agents._carrier_guard.clean_baggage`, as the lean telemetry's getter does): the
middleware extracts with contrib's own ``asgi_getter``, and the SDK's propagator logs a
warning quoting each list-member it refuses, one request's worth of them being 179 lines of
the client's text. The gateway behind :class:`RestoredScope` gets the headers as sent.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from otel_agents._carrier_guard import clean_baggage
from otel_agents.gateway._history import redact_path, redact_query

__all__ = ["RedactedScope", "RestoredScope", "checked_headers", "redacted_target"]

#: Scope key of the (path, query_string) the client sent, while a redacted copy is shown.
_ORIGINAL = "otel_agents.gateway.original_target"
#: Scope key of the headers the client sent, while a copy with its baggage checked is shown.
_ORIGINAL_HEADERS = "otel_agents.gateway.original_headers"
_BAGGAGE = b"baggage"


def redacted_target(scope: Scope) -> tuple[str, bytes] | None:
    """``scope``'s (path, query_string) with token-like parameters masked, or ``None`` when
    nothing in them is masked."""
    path: str = scope.get("path", "")
    query: bytes = scope.get("query_string", b"")
    if not query and ";" not in path:
        return None
    shown_path = redact_path(path)
    # latin-1 both ways: every byte survives (a raw 0xFF too), secrets masked in place.
    shown_query = redact_query(query.decode("latin-1")).encode("latin-1") if query else query
    if shown_path == path and shown_query == query:
        return None
    return shown_path, shown_query


def checked_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]] | None:
    """``headers`` with their ``baggage`` field lines as one line the propagator accepts
    silently (none when nothing of them is kept), or ``None`` when there is no baggage."""
    found = [bytes(value).decode("latin-1") for name, value in headers if name == _BAGGAGE]
    if not found:
        return None
    shown = [(name, value) for name, value in headers if name != _BAGGAGE]
    cleaned = clean_baggage(found)
    if cleaned is not None:
        shown.append((_BAGGAGE, cleaned.encode("latin-1")))
    return shown


class RedactedScope:
    """ASGI middleware: the app sees the scope with its target redacted (see module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            shown = redacted_target(scope)
            if shown is not None:
                original = (scope["path"], scope.get("query_string", b""))
                scope = {**scope, "path": shown[0], "query_string": shown[1], _ORIGINAL: original}
            headers = scope.get("headers") or []
            checked = checked_headers(headers)
            if checked is not None:
                scope = {**scope, "headers": checked, _ORIGINAL_HEADERS: headers}
        await self.app(scope, receive, send)


class RestoredScope:
    """ASGI middleware: undoes :class:`RedactedScope` for the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        original = scope.get(_ORIGINAL)
        if original is not None:
            scope = {**scope, "path": original[0], "query_string": original[1]}
            del scope[_ORIGINAL]
        headers = scope.get(_ORIGINAL_HEADERS)
        if headers is not None:
            scope = {**scope, "headers": headers}
            del scope[_ORIGINAL_HEADERS]
        await self.app(scope, receive, send)
