"""Redacted request/response history, kept in a :class:`otel_agents._history.BoundedHistory`.

Each record keeps what an operator needs (method, route, service, status, duration, client,
trace id) and nothing a client would not want kept: credentials in headers (``Authorization``,
``Cookie``, ``Set-Cookie``, API-key and token headers), token-like query parameters and
``user:pass@`` in URLs are replaced by ``REDACTED`` before a record is stored.

Memory is bounded twice. Every field a client controls is cut to a fixed length after
redaction (path and query :data:`MAX_TARGET` characters, :data:`MAX_HEADERS` headers of
:data:`MAX_VALUE` characters, ...), so one record stays a few KiB whatever the request;
and :class:`GatewayHistory` keeps at most ``max_history`` records *and* at most
``max_history_bytes`` of their estimated size, dropping the oldest first.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from otel_agents._history import BoundedHistory

# The URL redaction lives in a light shared module (the messaging server masks its span's
# query the same way); its names stay importable from here for the gateway's modules.
from otel_agents._url_redaction import (
    REDACTED,
    is_secret_name,
    redact_path,
    redact_query,
    redact_target,
)

__all__ = [
    "MAX_HEADERS",
    "MAX_TARGET",
    "MAX_VALUE",
    "REDACTED",
    "GatewayHistory",
    "GatewayRecord",
    "clip",
    "is_secret_name",
    "new_history",
    "record_size",
    "redact_headers",
    "redact_path",
    "redact_query",
    "redact_target",
]

#: Characters kept of a record's path and of its query (after redaction).
MAX_TARGET = 1024
#: Characters kept of a header value or user agent.
MAX_VALUE = 256
#: Headers kept in a record (the safe ones and masked secrets), and a name's length.
MAX_HEADERS = 16
MAX_NAME = 64
#: Characters kept of short fields a client may stretch (method, client address).
MAX_SHORT = 64
_CUT = "...[truncated]"

#: Headers worth keeping in a record; others are dropped rather than guessed about.
_KEPT_HEADERS = frozenset(
    {"accept", "content-type", "content-length", "user-agent", "host", "x-request-id"}
)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[:limit] + _CUT


def redact_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """A small, redacted view of request headers: known-safe ones kept, secrets masked,
    at most :data:`MAX_HEADERS` of them."""
    kept: dict[str, str] = {}
    for raw_name, raw_value in headers:
        if len(kept) >= MAX_HEADERS:
            break
        name = raw_name.decode("latin-1").lower()
        if is_secret_name(name):
            kept[clip(name, MAX_NAME)] = REDACTED
        elif name in _KEPT_HEADERS:
            kept[name] = clip(raw_value.decode("latin-1"), MAX_VALUE)
    return kept


@dataclass(frozen=True)
class GatewayRecord:
    """One answered request, already redacted."""

    timestamp: float
    method: str
    path: str
    route: str
    service_id: str
    status_code: int
    duration: float
    client_ip: str
    user_agent: str
    trace_id: str
    query: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)
    error_type: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the record."""
        return asdict(self)


#: Estimated bytes of a record beyond its strings: the object, its ``__dict__``, two
#: floats, an int, the headers dict, and each string object's header (measured with
#: tracemalloc on CPython 3.11; see test_history_size).
_RECORD_OVERHEAD = 600
_PER_HEADER = 100


def record_size(record: GatewayRecord) -> int:
    """An estimate of the memory ``record`` holds, in bytes (ASCII text: 1 byte a char)."""
    size = _RECORD_OVERHEAD + (
        len(record.method)
        + len(record.path)
        + len(record.route)
        + len(record.service_id)
        + len(record.client_ip)
        + len(record.user_agent)
        + len(record.trace_id)
        + len(record.query)
        + len(record.error_type)
    )
    for name, value in record.request_headers.items():
        size += _PER_HEADER + len(name) + len(value)
    return size


class GatewayHistory(BoundedHistory[GatewayRecord]):
    """At most ``max_items`` records and at most ``max_bytes`` of them (estimated by
    :func:`record_size`); the oldest go first when either bound is reached."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        super().__init__(max_items, _timestamp_of, parameter="max_history")
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._sizes: deque[int] = deque()
        self.append = self._append

    def _append(self, record: GatewayRecord) -> None:
        size = record_size(record)
        with self._lock:
            items, sizes = self._items, self._sizes
            while items and (len(items) >= self.max_items or self.nbytes + size > self.max_bytes):
                items.popleft()
                self.nbytes -= sizes.popleft()
            items.append(record)
            sizes.append(size)
            self.nbytes += size

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()
            self.nbytes = 0

    def prune(self, now: float | None = None) -> int:
        """Drop records older than ``retention`` seconds; return how many were dropped."""
        if self.retention is None:
            return 0
        cutoff = (time.time() if now is None else now) - self.retention
        dropped = 0
        with self._lock:
            while self._items and self._items[0].timestamp < cutoff:
                self._items.popleft()
                self.nbytes -= self._sizes.popleft()
                dropped += 1
        return dropped


def new_history(max_history: int, max_bytes: int = 64 * 1024 * 1024) -> GatewayHistory:
    """The bounded store for ``max_history`` records of at most ``max_bytes`` in all."""
    return GatewayHistory(max_history, max_bytes)


def _timestamp_of(record: GatewayRecord) -> float:
    return record.timestamp


def now() -> float:
    return time.time()
