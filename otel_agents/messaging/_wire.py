"""The wire error table: our exceptions as HTTP statuses and stable codes, both directions.

A server (the hub, an inbox) answers an error as JSON ``{"error": code, "detail": message}``
with the status :func:`to_wire` gives; a client (a :class:`~otel_agents.messaging.RemoteAgent`)
turns the code back into the class the in-process protocol raises with :func:`from_wire`.
One table serves both, so a new error cannot be sent under a code clients do not know.

A code that came from a peer (a hub, an inbox) is used only through :func:`peer_code`: it
becomes a ``DeliveryError.reason``, a hub log line, a record's ``error_type`` and the
``error.type`` attribute of metrics, so a peer must not be able to put a line break, an
escape sequence or a megabyte there, nor choose new metric series: only a code of
:data:`PEER_CODES` (what a hub or an inbox of this package answers) is kept; anything else,
however well formed, is ``http_<status>``. Otherwise one registered inbox answering
thousands of made-up codes fills the SDK's cardinality limit, and later genuine failures
are counted under ``otel.metric.overflow``. :func:`raise_for_delivery` and
:func:`refused_in` read an inbox's answer (one message, or a batch's refusals) that way.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from otel_agents._errors import printable
from otel_agents.messaging import _errors as e

__all__ = [
    "CODE_PATTERN",
    "MAX_DETAIL",
    "PEER_CODES",
    "WIRE_ERRORS",
    "from_wire",
    "peer_code",
    "raise_for_delivery",
    "refused_in",
    "to_wire",
]

#: The most characters of a peer's ``detail`` an error shows (control characters escaped,
#: with :func:`otel_agents._errors.printable`): our own details are a sentence or two.
MAX_DETAIL = 300

#: The form of a code a peer relays from an HTTP status (``http_413``: an inbox's bare
#: status, passed on by the hub): at most one series per status.
CODE_PATTERN = re.compile(r"http_[1-5][0-9][0-9]")

#: (class, HTTP status, code), most specific class first. Several classes may share a code:
#: a client maps a code back to the first class listed with it.
WIRE_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (e.UnknownAgentError, 404, "unknown_agent"),
    (e.UnknownMessageError, 404, "unknown_message"),
    (e.UnknownCapabilityError, 404, "unknown_capability"),
    (e.DuplicateAgentError, 409, "duplicate_agent"),
    (e.DuplicateMessageError, 409, "duplicate_message"),
    (e.MessageTooLargeError, 413, "too_large"),
    (e.InvalidMessageError, 400, "invalid_message"),
    (e.InvalidPayloadError, 400, "invalid_message"),
    (e.MessageExpiredError, 410, "expired"),
    (e.QueueFullError, 503, "queue_full"),
    (e.RegistryFullError, 503, "registry_full"),
)

#: Every code a hub or an inbox of this package answers with, beyond WIRE_ERRORS' own:
#: security refusals (SecurityError.reason), a server's 500, and the reasons of the
#: DeliveryError a hub answers 502 with (its delivery, dead letters, calls it relays).
_OTHER_CODES = (
    "unauthorized",
    "unsigned",
    "bad_signature",
    "stale",
    "replayed",
    "internal_error",
    "delivery_failed",
    "no_ack",
    "recipient_unreachable",
    "recipient_timeout",
    "answer_too_large",
    "hub_timeout",
    "hub_unreachable",
)

#: The one table of codes taken from a peer as they are (:func:`peer_code`).
PEER_CODES: frozenset[str] = frozenset(
    [code for _kind, _status, code in WIRE_ERRORS] + list(_OTHER_CODES)
)

_BY_CODE: dict[str, type[Exception]] = {}
for _kind, _status, _code in WIRE_ERRORS:
    _BY_CODE.setdefault(_code, _kind)


def to_wire(exc: Exception) -> tuple[int, str, str]:
    """``(status, code, detail)`` for an exception a server answers with.

    Security refusals are 401 (no valid token) or 403 (signature, staleness, replay) with
    their reason as the code; other delivery failures are 502 with their reason; anything
    else is a 500 that names only the exception's type (never its message, which may carry
    internals).
    """
    if isinstance(exc, e.SecurityError):
        return (401 if exc.reason == "unauthorized" else 403), exc.reason, str(exc)
    for kind, status, code in WIRE_ERRORS:
        if isinstance(exc, kind):
            return status, code, str(exc)
    if isinstance(exc, e.DeliveryError):
        return 502, exc.reason, str(exc)
    return 500, "internal_error", type(exc).__name__


def from_wire(code: Any, message: str, status: int) -> Exception:
    """The exception for a code a server answered with: the in-process class where one
    exists, else :class:`SecurityError` (401/403) or :class:`DeliveryError` with the code
    as its reason (:func:`peer_code`: ``http_<status>`` unless it is a known code).
    ``message`` must already be fit to show (cut short, control characters escaped)."""
    kind = _BY_CODE.get(code) if isinstance(code, str) else None
    if kind is not None:
        return kind(message)
    if status in (401, 403):
        return e.SecurityError(message, reason=peer_code(code, status) if code else "unauthorized")
    return e.DeliveryError(message, reason=peer_code(code, status))


def peer_code(code: Any, status: int) -> str:
    """A peer's error ``code`` if it is one we know (:data:`PEER_CODES`, or ``http_<status>``
    relayed: :data:`CODE_PATTERN`), else ``http_<status>``: never a peer's arbitrary text
    as a reason, a log line's word or a metric attribute, nor a value it made up."""
    if isinstance(code, str) and (code in PEER_CODES or CODE_PATTERN.fullmatch(code)):
        return code
    return f"http_{status}"


class Answer(Protocol):
    """A peer's HTTP answer, read whole (the inbox client's ``Answer``)."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...


# -- an inbox's answer, read as errors (the hub's side of the wire) ----------------------------
def raise_for_delivery(response: Answer, target: str) -> None:
    """Turn an error answer of an inbox into a :class:`e.DeliveryError`."""
    if response.status_code < 400:
        return
    status = response.status_code
    reason, detail = f"http_{status}", response.content[:1200].decode("utf-8", "replace")
    try:
        data: Any = json.loads(response.content)
        if isinstance(data, dict):
            # The inbox's code is a hub log line's word and a metric attribute: only in
            # the form of a code (peer_code); its detail is cut and escaped.
            reason = peer_code(data.get("error", reason), status)
            detail = str(data.get("detail", detail))
    except (ValueError, RecursionError):
        pass
    detail = printable(detail, MAX_DETAIL)
    raise e.DeliveryError(
        f"{target} refused the message with HTTP {response.status_code} ({reason}): {detail}",
        reason=reason,
    )


def refused_in(response: Answer) -> dict[str, e.DeliveryError]:
    """The per-message refusals of a batch answer ``{"refused": [{message_id, error, detail}]}``."""
    try:
        refused = json.loads(response.content).get("refused") or []
    except (ValueError, AttributeError, RecursionError):
        return {}
    if not isinstance(refused, list):
        return {}
    return {
        str(item.get("message_id")): e.DeliveryError(
            printable(str(item.get("detail", "refused")), MAX_DETAIL),
            reason=peer_code(item.get("error", "refused"), response.status_code),
        )
        for item in refused
        if isinstance(item, dict)
    }
