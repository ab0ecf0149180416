"""Redacted request/response history, kept in a :class:`otel_agents.history.BoundedHistory`.

Each record keeps what an operator needs (method, route, service, status, duration, client,
trace id) and nothing a client would not want kept: credentials in headers (``Authorization``,
``Cookie``, ``Set-Cookie``, API-key and token headers), token-like query parameters and
``user:pass@`` in URLs are replaced by ``REDACTED`` before a record is stored.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from otel_agents._export import is_secret_key
from otel_agents.history import BoundedHistory

__all__ = [
    "REDACTED",
    "GatewayRecord",
    "new_history",
    "redact_headers",
    "redact_path",
    "redact_query",
    "redact_target",
]

REDACTED = "REDACTED"

#: Names the project-wide secret pattern (``otel_agents._export``) does not catch but that
#: carry credentials in headers or query strings.
_MORE_SECRETS = frozenset(
    {"key", "code", "sig", "x-amz-signature", "x-goog-signature", "awsaccesskeyid"}
)
#: Query parameters are separated by ``&`` and, in older forms (and matrix parameters of a
#: path segment), by ``;``: a secret after either must be masked.
_SEPARATORS = re.compile(r"([&;])")
#: Headers worth keeping in a record; others are dropped rather than guessed about.
_KEPT_HEADERS = frozenset(
    {"accept", "content-type", "content-length", "user-agent", "host", "x-request-id"}
)


def is_secret_name(name: str) -> bool:
    """True for header or parameter names that may carry credentials."""
    return is_secret_key(name) or name.lower() in _MORE_SECRETS


def redact_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """A small, redacted view of request headers: known-safe ones kept, secrets masked."""
    kept: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        if is_secret_name(name):
            kept[name] = REDACTED
        elif name in _KEPT_HEADERS:
            kept[name] = raw_value.decode("latin-1")[:256]
    return kept


def redact_query(query: str) -> str:
    """The query string with the value of every token-like parameter replaced.

    Parameters may be separated by ``&`` or ``;``; names are compared percent-decoded
    (``%74oken`` is ``token``). Everything else is kept as the client wrote it.
    """
    if not query:
        return ""
    pieces = _SEPARATORS.split(query)
    for index in range(0, len(pieces), 2):
        name, eq, _ = pieces[index].partition("=")
        if eq and is_secret_name(unquote_plus(name).strip()):
            pieces[index] = f"{name}={REDACTED}"
    return "".join(pieces)


def redact_target(target: str) -> str:
    """A URL or path with credentials (``user:pass@``) and token-like parameters masked,
    in the query and in ``;`` matrix parameters of the path (``/x;jsessionid=...``)."""
    if target.startswith("/") and "?" not in target and "//" not in target:
        # a bare path has no credentials and no query to mask, only matrix parameters
        return redact_path(target) if ";" in target else target
    parts = urlsplit(target)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "REDACTED:REDACTED@" + netloc.rsplit("@", 1)[1]
    return parts._replace(
        netloc=netloc, path=redact_path(parts.path), query=redact_query(parts.query)
    ).geturl()


def redact_path(path: str) -> str:
    """``path`` with token-like ``;`` matrix parameters of its segments masked."""
    if ";" not in path:
        return path
    segments = path.split("/")
    for index, segment in enumerate(segments):
        head, semi, params = segment.partition(";")
        if semi:
            segments[index] = head + semi + redact_query(params)
    return "/".join(segments)


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


def new_history(max_history: int) -> BoundedHistory[GatewayRecord]:
    """The bounded store for ``max_history`` records."""
    return BoundedHistory(max_history, _timestamp_of, parameter="max_history")


def _timestamp_of(record: GatewayRecord) -> float:
    return record.timestamp


def now() -> float:
    return time.time()
