"""JSON from the network, parsed strictly, in one place for every envelope entry point.

Python's :func:`json.loads` accepts what JSON (RFC 8259) does not have: ``NaN``,
``Infinity`` and ``-Infinity``, and turns a number too large for a float (``1e400``) into
infinity. Such a payload passed the hub and failed only when the hub re-encoded it for the
recipient (``allow_nan=False``): the sender got a 502 blaming the recipient and a delivery
failure was counted. Here they are refused as they arrive, as an
:class:`InvalidMessageError` (400 ``invalid_message``) that says where such a number may
hide and what to send instead; so is malformed or absurdly nested JSON. The hub, the agents'
inboxes (:func:`otel_agents.messaging._http.parse_json`) and envelopes read from a broker
(:meth:`AgentMessage.from_json <otel_agents.messaging._message.AgentMessage.from_json>`)
all parse through :func:`loads_strict`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from otel_agents.messaging._errors import InvalidMessageError

__all__ = ["loads_strict"]

_FIX = (
    "(in the payload or any other field): JSON numbers are finite 64-bit floats; send null "
    "or a string for a missing or special value"
)


def _no_constant(name: str) -> Any:
    raise InvalidMessageError(f"{name} is not a JSON number {_FIX}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidMessageError(f"the number {text[:40]} is out of range for JSON {_FIX}")
    return value


def loads_strict(text: str | bytes, what: str = "the request body") -> Any:
    """Parse ``text`` (``what`` names it in errors) as RFC 8259 JSON, or raise
    :class:`InvalidMessageError`."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except InvalidMessageError:
        raise
    except RecursionError:
        raise InvalidMessageError(
            f"{what} is nested too deeply to parse: flatten the payload"
        ) from None
    except ValueError as exc:
        raise InvalidMessageError(f"{what} is not valid JSON: {exc}") from exc
