"""Optional bodies and response headers for the request history: off by default.

The seed's "complete request/response history". The plain history
(:mod:`otel_agents.gateway._history`) keeps no bodies and no response headers on purpose:
bodies are where personal data and credentials live. An operator who needs them turns this
on with :meth:`~otel_agents.gateway.APIGateway.enable_exchange_history`; each answered
proxied request then adds an :class:`Exchange` to a separate bounded store, joined to the
history by ``trace_id``.

What is kept, and how it is bounded:

* at most ``max_body_bytes`` (default 4096) of each body, marked ``truncated``;
* JSON bodies with the values of secret-looking keys replaced (``password``, ``token``,
  ``api_key``, ... as everywhere in otel-agents), form bodies with secret parameters
  masked, other text as is, binary bodies as ``<N bytes of TYPE>`` only;
* response headers: the known-safe ones, credentials (``Set-Cookie``, ...) masked, and
  ``Location``/``Content-Location`` with token-like query parameters (``code``, ``token``,
  ``sig``, ...) and ``user:pass@`` masked as in the history;
* at most ``max_records`` exchanges (1000), the oldest dropped first.

The admin API (``/_gateway``) is never captured.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otel_agents._errors import invalid_value
from otel_agents._export import redact_value
from otel_agents._history import BoundedHistory, TimeRange
from otel_agents._logs import redacting_logger
from otel_agents._runtime import FailureLog, failsafe_call
from otel_agents.gateway._admin import ADMIN_PREFIX
from otel_agents.gateway._history import (
    MAX_HEADERS,
    MAX_NAME,
    MAX_TARGET,
    MAX_VALUE,
    REDACTED,
    clip,
    is_secret_name,
    redact_query,
    redact_target,
)

__all__ = ["Exchange", "ExchangeCapture", "ExchangeStore"]

_logger = redacting_logger("otel_agents.gateway")

#: URL-valued headers: kept with credentials and token-like parameters masked
#: (``Location: /cb?code=...`` of an OAuth redirect carries a one-time credential).
_URL_HEADERS = frozenset({"location", "content-location"})
_RESPONSE_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "cache-control", "etag",
     "retry-after", "x-request-id", "traceparent"}
) | _URL_HEADERS  # fmt: skip
_TEXT_TYPES = ("text/", "application/xml", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Exchange:
    """One proxied request's bodies and response headers, redacted and capped."""

    timestamp: float
    trace_id: str
    method: str
    path: str
    status_code: int
    request_body: Any
    request_truncated: bool
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: Any = None
    response_truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ExchangeStore(BoundedHistory[Exchange]):
    """At most ``max_records`` exchanges, oldest dropped first."""

    def __init__(self, max_records: int, max_body_bytes: int) -> None:
        for name, value in (("max_records", max_records), ("max_body_bytes", max_body_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise invalid_value(name, value, "a positive whole number")
        super().__init__(max_records, _timestamp_of, parameter="max_records")
        self.max_body_bytes = max_body_bytes

    def records(self, time_range: TimeRange = None) -> list[dict[str, Any]]:
        """The exchanges in ``time_range`` as JSON-ready dicts, oldest first."""
        return [exchange.to_dict() for exchange in self.select(time_range)]


class ExchangeCapture:
    """ASGI middleware (inside the server span): ``ExchangeCapture(app, store=store)``."""

    def __init__(self, app: ASGIApp, store: ExchangeStore) -> None:
        self.app = app
        self.store = store
        # Recording runs after the response is sent: a failure there costs the exchange,
        # never the request, and is logged once (not once per request a client can send).
        self._failures = FailureLog(
            _logger, "exchange history: %s failed; exchanges may be missing (logged once)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not path or path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        limit = self.store.max_body_bytes
        request = _Body(limit)
        response = _Body(limit)
        status: list[int] = []
        headers: list[tuple[bytes, bytes]] = []

        async def watch_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request.add(message.get("body", b""))
            return message

        async def watch_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                headers.extend(message.get("headers", ()))
            elif message["type"] == "http.response.body":
                response.add(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, watch_receive, watch_send)
        finally:
            failsafe_call(
                self._record,
                scope,
                path,
                request,
                response,
                status,
                headers,
                failures=self._failures,
                key="recording an exchange",
            )

    def _record(
        self,
        scope: Scope,
        path: str,
        request: _Body,
        response: _Body,
        status: list[int],
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        context = trace.get_current_span().get_span_context()
        self.store.append(
            Exchange(
                timestamp=time.time(),
                trace_id=format(context.trace_id, "032x") if context.is_valid else "",
                method=clip(str(scope.get("method", "")), 16),
                path=clip(redact_target(path), MAX_TARGET),
                status_code=status[0] if status else 500,
                request_body=request.shown(_content_type(scope.get("headers", ()))),
                request_truncated=request.truncated,
                response_headers=_response_headers(headers),
                response_body=response.shown(_content_type(headers)),
                response_truncated=response.truncated,
            )
        )


class _Body:
    """The first ``limit`` bytes of a body, and whether there was more."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data.extend(chunk[:room])

    @property
    def truncated(self) -> bool:
        return self.size > len(self.data)

    def shown(self, content_type: str) -> Any:
        if not self.size:
            return None
        data = bytes(self.data)
        if "json" in content_type and not self.truncated:
            try:
                document = json.loads(data)
            except ValueError:
                return f"<{self.size} bytes of {content_type}: not valid JSON>"
            except RecursionError:  # "[[[[...": a few KiB nest past the parser's depth
                return f"<{self.size} bytes of {content_type}: nested too deeply>"
            # Depth-bounded (nesting past MAX_DEPTH becomes REDACTED): a client controls it.
            return redact_value(document)
        if "json" in content_type:  # cut JSON cannot be parsed, so it cannot be redacted
            return f"<{self.size} bytes of {content_type}: over max_body_bytes>"
        if content_type.startswith(_TEXT_TYPES):
            text = data.decode("utf-8", errors="replace")
            return redact_query(text) if "form-urlencoded" in content_type else text
        return f"<{self.size} bytes of {content_type or 'unknown type'}>"


def _content_type(headers: Any) -> str:
    for name, value in headers:
        if bytes(name).lower() == b"content-type":
            return bytes(value).decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


def _response_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for raw_name, raw_value in headers:
        if len(kept) >= MAX_HEADERS:
            break
        name = raw_name.decode("latin-1").lower()
        if is_secret_name(name) or name == "set-cookie":
            kept[clip(name, MAX_NAME)] = REDACTED
        elif name in _URL_HEADERS:
            kept[name] = clip(_redacted_url(raw_value.decode("latin-1")), MAX_VALUE)
        elif name in _RESPONSE_HEADERS:
            kept[name] = clip(raw_value.decode("latin-1"), MAX_VALUE)
    return kept


def _redacted_url(value: str) -> str:
    try:
        return redact_target(value)
    except ValueError:  # not parsable as a URL ("http://[::1"): nothing of it is kept
        return REDACTED


def _timestamp_of(exchange: Exchange) -> float:
    return exchange.timestamp
