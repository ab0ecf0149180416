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
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from otel_agents.gateway._history import redact_path, redact_query

__all__ = ["RedactedScope", "RestoredScope", "redacted_target"]

#: Scope key of the (path, query_string) the client sent, while a redacted copy is shown.
_ORIGINAL = "otel_agents.gateway.original_target"


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
        await self.app(scope, receive, send)
