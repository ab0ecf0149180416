"""Message content is never captured unless opted in by the conventions' own switch.

``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is the variable every official GenAI
instrumentation reads (through ``opentelemetry-util-genai``). Its values, case-insensitive:
``NO_CONTENT`` (the default; also anything unset or unknown), ``SPAN_ONLY``, ``EVENT_ONLY``,
``SPAN_AND_EVENT``; ``true`` is the older instrumentations' spelling of "capture". We put
content only on spans (``gen_ai.input.messages`` / ``gen_ai.output.messages``, JSON as the
conventions say for span attributes), so ``SPAN_ONLY``, ``SPAN_AND_EVENT`` and ``true`` turn
it on. ``tests/genai/test_conventions.py`` checks that util-genai reads each value the same.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from otel_agents._errors import invalid_type

__all__ = ["CAPTURE_CONTENT_ENV", "capture_content_on_spans", "messages_json"]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_ON_SPANS = frozenset({"span_only", "span_and_event", "true"})


def capture_content_on_spans() -> bool:
    """Whether the switch asks for message content on spans (read at each use)."""
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in _ON_SPANS


def messages_json(parameter: str, messages: Sequence[Mapping[str, Any]]) -> str:
    """``messages`` (role/parts mappings, as the conventions shape them) as one JSON string.

    Raises:
        InvalidTypeError: not a sequence of mappings, or not JSON-serializable.
    """
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise invalid_type(parameter, messages, "a sequence of message mappings")
    if not all(isinstance(message, Mapping) for message in messages):
        raise invalid_type(parameter, messages, "a sequence of message mappings")
    try:
        return json.dumps([dict(m) for m in messages], ensure_ascii=False, default=_refuse)
    except (TypeError, ValueError) as exc:
        raise invalid_type(parameter, messages, "JSON-serializable message mappings") from exc


def _refuse(value: object) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")
