"""The trace context a received message carries: the parent, or the links, of what continues it.

Context in: every envelope carries the sender's W3C trace context in its headers. Reading it
back is its own concept, separate from the span recipes of :mod:`._telemetry`, because the
headers are network input: oversized values are dropped before the propagator sees them and
a propagator that raises costs the trace, never the message. A broadcast copy starts a trace
of its own linked to the one send span, so reading the context also decides parent or link.
"""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import default_getter
from opentelemetry.trace import Link

from otel_agents._carrier_guard import GuardedGetter
from otel_agents._logs import redacting_logger
from otel_agents.messaging._message import AgentMessage

__all__ = ["carries_span", "message_link", "process_context"]

_logger = redacting_logger("otel_agents.messaging")

#: Headers longer than this are not handed to the propagator (10 KB of junk starts a new trace).
_MAX_HEADER_LENGTH = 8192
#: An envelope's headers as the propagators see them: baggage checked first.
_GETTER = GuardedGetter(default_getter)


def process_context(message: AgentMessage) -> tuple[Context, list[Link]]:
    """The parent context and links of a process span; malformed headers never raise."""
    headers = message.headers
    try:
        if any(len(value) > _MAX_HEADER_LENGTH for value in headers.values()):
            headers = {k: v for k, v in headers.items() if len(v) <= _MAX_HEADER_LENGTH}
        context = propagate.extract(headers, getter=_GETTER)
    except Exception:  # a propagator must never stop a message from being processed
        _logger.debug("ignoring unreadable trace headers", exc_info=True)
        return Context(), []
    if not message.broadcast:
        return context, []
    creator = trace.get_current_span(context).get_span_context()
    root = trace.set_span_in_context(trace.INVALID_SPAN, context)  # keeps the baggage
    return root, [Link(creator)] if creator.is_valid else []


def message_link(message: AgentMessage) -> Link | None:
    """A link to the span whose context ``message`` carries, if it carries a valid one."""
    context, links = process_context(message)
    if links:
        return links[0]
    found = trace.get_current_span(context).get_span_context()
    return Link(found) if found.is_valid else None


def carries_span(context: Context) -> bool:
    """Whether ``context`` holds a valid span context (extracted from a ``traceparent``)."""
    return trace.get_current_span(context).get_span_context().is_valid
