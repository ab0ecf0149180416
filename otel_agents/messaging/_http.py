"""Request checks and JSON errors shared by the hub and the agent inbox apps."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from otel_agents.messaging._errors import InvalidMessageError, MessageTooLargeError, SecurityError
from otel_agents.messaging._json import loads_strict
from otel_agents.messaging._message import AgentMessage
from otel_agents.messaging._security import SecurityConfig
from otel_agents.messaging._telemetry import MessagingTelemetry
from otel_agents.messaging._wire import to_wire

__all__ = [
    "MAX_BATCH",
    "authenticate",
    "error_response",
    "json_body",
    "parse_json",
    "read_body",
    "read_envelopes",
    "refusal",
]

#: The most messages one request may carry.
MAX_BATCH = 1000


def error_response(exc: Exception) -> JSONResponse:
    """The JSON error for one of our exceptions: ``{"error": code, "detail": message}``
    (see :mod:`otel_agents.messaging._wire`)."""
    status, code, detail = to_wire(exc)
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


def authenticate(
    request: Request,
    security: SecurityConfig,
    telemetry: MessagingTelemetry,
    own_id: str | None = None,
) -> str | None:
    """Check the bearer token; count and re-raise a rejection."""
    try:
        return security.authenticate(request.headers, own_id=own_id)
    except SecurityError as exc:
        telemetry.record_rejected(exc.reason)
        raise


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with :class:`MessageTooLargeError` (413) past ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before a byte of the body is
    read; a chunked body is read chunk by chunk and refused as soon as it passes the limit,
    so an oversized request never sits whole in memory.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise InvalidMessageError(
                f"Content-Length={declared!r:.40} is not valid: expected a whole number"
            ) from None
        if length > limit:
            raise _too_large(length, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> MessageTooLargeError:
    return MessageTooLargeError(
        f"the request body has {size} bytes or more, over max_message_size={limit}: send "
        "smaller messages or raise max_message_size on the hub and the agents"
    )


def parse_json(body: bytes | str) -> Any:
    """Parse a request body strictly (:func:`~otel_agents.messaging._json.loads_strict`):
    malformed or absurdly nested JSON, ``NaN`` and ``Infinity`` are an InvalidMessageError."""
    return loads_strict(body)


async def read_envelopes(
    request: Request,
    security: SecurityConfig,
    telemetry: MessagingTelemetry,
    expected_sender: str | None,
    limit: int,
) -> tuple[list[AgentMessage], bool]:
    """Parse and verify one signed envelope or a signed JSON array of them.

    Returns the messages and whether the body was a batch. A batch is signed once, with the
    first message's id. ``expected_sender`` is the agent a per-agent token proved (``None``
    for the shared secret, or when the hub delivers to an inbox); a message claiming another
    sender is refused as unauthorized. Rejections are counted. A body over ``limit`` bytes
    is refused (413) before it is buffered.
    """
    body = await read_body(request, limit)
    data = parse_json(body)
    batch = isinstance(data, list)
    items = data if batch else [data]
    if not items or len(items) > MAX_BATCH:
        raise InvalidMessageError(
            f"a batch of {len(items)} messages is not valid: send 1 to {MAX_BATCH}"
        )
    messages = [AgentMessage.from_dict(item) for item in items]
    try:
        try:
            security.verify(request.headers, body, messages[0].message_id)
        except InvalidMessageError:
            telemetry.record_rejected("bad_signature")
            raise
        for message in messages:
            if expected_sender is not None and expected_sender != message.sender_id:
                raise SecurityError(
                    f"the caller proved to be agent {expected_sender!r} (by its token), but the "
                    f"message claims sender {message.sender_id!r}",
                    reason="unauthorized",
                )
    except SecurityError as exc:
        telemetry.record_rejected(exc.reason)
        raise
    return messages, batch


def refusal(message: AgentMessage, exc: Exception) -> dict[str, str]:
    """One entry of a batch answer's ``refused`` list."""
    body = json.loads(bytes(error_response(exc).body))
    return {"message_id": message.message_id, "error": body["error"], "detail": body["detail"]}


def json_body(data: Any) -> dict[str, Any]:
    """A request's JSON object, or an InvalidMessageError."""
    if not isinstance(data, dict):
        raise InvalidMessageError(f"request body={data!r:.80} is not valid: expected an object")
    return data
