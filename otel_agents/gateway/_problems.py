"""RFC 9457 ``application/problem+json`` responses the gateway generates itself.

Every error the gateway answers (404, 401, 403, 408, 413, 429, 500, 502, 503, 504) is a problem
document with a stable ``type`` URI, a short ``title``, the ``status`` and a ``detail`` written
for the client. Details never carry stack traces, exception text or internal addresses. The
request pipeline's own answers (no route, no healthy instance, bad framing, upstream errors)
are built once, below, and sent as they are.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "BAD_FRAMING",
    "BAD_GATEWAY",
    "BAD_HEADER",
    "BAD_LENGTH",
    "BAD_PATH",
    "BODY_TIMEOUT",
    "BUSY",
    "NOT_FOUND",
    "PROBLEM_CONTENT_TYPE",
    "UNAVAILABLE",
    "UPSTREAM_TIMEOUT",
    "Problem",
    "problem",
    "send_problem",
]

PROBLEM_CONTENT_TYPE = b"application/problem+json"
_TYPE_BASE = "https://otel-agents.dev/problems/"

_TITLES = {
    400: ("bad-request", "Bad Request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not Found"),
    405: ("method-not-allowed", "Method Not Allowed"),
    408: ("request-timeout", "Request Timeout"),
    413: ("content-too-large", "Content Too Large"),
    429: ("rate-limited", "Too Many Requests"),
    500: ("internal-error", "Internal Server Error"),
    502: ("bad-gateway", "Bad Gateway"),
    503: ("service-unavailable", "Service Unavailable"),
    504: ("gateway-timeout", "Gateway Timeout"),
}

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Problem:
    """A problem document ready to send: status, encoded body and extra headers."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self.body = body
        self.headers = headers


def problem(
    status: int,
    detail: str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    **extensions: Any,
) -> Problem:
    """Build the problem document for ``status`` with a client-facing ``detail``."""
    slug, title = _TITLES.get(status, ("error", "Error"))
    document: dict[str, Any] = {
        "type": _TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    document.update(extensions)
    body = json.dumps(document, separators=(",", ":")).encode()
    all_headers = [
        (b"content-type", PROBLEM_CONTENT_TYPE),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if headers:
        all_headers.extend(headers)
    return Problem(status, body, all_headers)


async def send_problem(send: Send, item: Problem) -> None:
    """Send ``item`` as a complete ASGI HTTP response."""
    await send({"type": "http.response.start", "status": item.status, "headers": item.headers})
    await send({"type": "http.response.body", "body": item.body})


# -- the answers of the request pipeline (gateway/_pipeline.py) ------------------------------
NOT_FOUND = problem(404, "No service is registered for this path and version.")
UNAVAILABLE = problem(503, "The service has no healthy instance right now; retry later.")
BAD_GATEWAY = problem(502, "The upstream service could not be reached or answered badly.")
UPSTREAM_TIMEOUT = problem(504, "The upstream service did not answer in time.")
BUSY = problem(
    503,
    "The gateway's connections to the service are all busy; retry later.",
    headers=[(b"retry-after", b"1")],
)
BAD_LENGTH = problem(400, "The Content-Length header is not a valid number.")
BAD_FRAMING = problem(
    400,
    "Send the body with one Content-Length or with Transfer-Encoding: chunked, not both, and "
    "exactly as long as declared.",
    headers=[(b"connection", b"close")],
)
BODY_TIMEOUT = problem(
    408,
    "The request body did not arrive in time; send it without long pauses.",
    headers=[(b"connection", b"close")],
)
BAD_HEADER = problem(
    400,
    "A header name is not an HTTP token, or a header holds a CR, LF or NUL character; the "
    "gateway does not forward such a request.",
)
BAD_PATH = problem(
    400,
    "The path must not contain '.' or '..' segments, an encoded '/', a '\\' or a control "
    "character.",
)
