"""The hub's routing of envelopes that remote senders built, traced and signed.

Messages of one request are checked one by one (a bad one does not sink the others), then
delivered with one transport call per recipient, concurrently. Every outcome is recorded in
the protocol's history and metrics, and returned so the hub can tell each sender.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState

from otel_agents._errors import MessagingError
from otel_agents.messaging._errors import MessageExpiredError, MessageTooLargeError
from otel_agents.messaging._message import AgentMessage
from otel_agents.messaging._protocol import AgentCommunicationProtocol
from otel_agents.messaging._registry import AgentInfo
from otel_agents.messaging._span_scope import mark_failed
from otel_agents.semconv import MESSAGING_OPERATION_SEND

_W3C = TraceContextTextMapPropagator()

__all__ = ["Admit", "Delivered", "Planned", "Router", "clean_trace_headers"]


@dataclass
class Planned:
    """The messages of one request admitted ahead of the one being checked."""

    #: How many, in all.
    count: int = 0
    #: How many, by recipient.
    by_recipient: dict[str, int] = field(default_factory=dict)
    #: Their wire bytes the hub will hold (messages for agents that report outcomes).
    size: int = 0
    #: Their JSON (UTF-8), by message id: made once by the router, kept if delivered.
    wires: dict[str, bytes] = field(default_factory=dict)


#: Refuses (raises) a message for a recipient, given the messages of the same request
#: admitted ahead of it; adds what it holds for the message to the :class:`Planned`.
Admit = Callable[[AgentInfo, AgentMessage, Planned], None]
#: Called with each message an inbox accepted and its JSON if the admission made it.
Delivered = Callable[[AgentMessage, bytes | None], None]

#: The longest ``tracestate`` forwarded (W3C Trace Context: 512 characters is what every
#: vendor must propagate; longer ones may be truncated by list member, we drop them whole).
MAX_TRACESTATE = 512
_TRACEPARENT = "traceparent"
_TRACESTATE = "tracestate"


def clean_trace_headers(headers: dict[str, str]) -> None:
    """Make an envelope's trace context follow W3C Trace Context before the hub forwards it.

    A ``tracestate`` only means something next to the ``traceparent`` it came with: when
    that is absent or invalid, both go (the hub's own context replaces them). An over-long
    or malformed ``tracestate`` is dropped; a valid one is forwarded re-serialized, never raw.
    """
    parent = headers.get(_TRACEPARENT)
    valid = False
    if parent is not None and len(parent) <= 256:
        with contextlib.suppress(Exception):  # a propagator must never stop a message
            extracted = _W3C.extract({_TRACEPARENT: parent})
            valid = trace.get_current_span(extracted).get_span_context().is_valid
    if not valid:
        headers.pop(_TRACEPARENT, None)
        headers.pop(_TRACESTATE, None)
        return
    state = headers.get(_TRACESTATE)
    if state is None:
        return
    parsed = None
    if len(state) <= MAX_TRACESTATE:
        with contextlib.suppress(Exception):
            parsed = TraceState.from_header([state])
    if parsed:
        headers[_TRACESTATE] = parsed.to_header()
    else:
        headers.pop(_TRACESTATE, None)


class Router:
    """Routes envelopes through ``protocol``'s registry, transport, history and metrics."""

    def __init__(
        self,
        protocol: AgentCommunicationProtocol,
        on_delivered: Delivered | None = None,
        check_id: Callable[[AgentMessage], None] | None = None,
        admit: Admit | None = None,
    ) -> None:
        self.protocol = protocol
        #: Called with each message an inbox accepted (the hub tracks its outcome).
        self.on_delivered = on_delivered
        #: Raises for a message whose id the hub holds for another message.
        self.check_id = check_id
        #: Called before delivery with the recipient, the message and what this request
        #: admitted ahead of it; raises to refuse it.
        self.admit = admit

    def check(self, message: AgentMessage) -> AgentInfo:
        """The recipient of ``message``; raises for unknown agents, a message id taken by
        another message, or an expired message."""
        protocol = self.protocol
        protocol.registry.get(message.sender_id, "sender_id")
        recipient = protocol.registry.get(message.recipient_id, "recipient_id")
        if self.check_id is not None:
            # Before anything is recorded under the id (an expired message is, below).
            self.check_id(message)
        if message.is_expired(protocol.clock.time()):
            protocol.consumer.expire(message, MESSAGING_OPERATION_SEND)
            raise MessageExpiredError(
                f"message {message.message_id!r} expired before it reached the hub: "
                "check the clocks or raise message_timeout"
            )
        return recipient

    def _wire(self, message: AgentMessage) -> bytes:
        """The JSON the hub forwards, holds and redelivers for ``message``; refused (413) if
        over ``max_message_size``, which the recipient's inbox would refuse (with a 502 to
        the sender) after the hub had accepted it. The sender's bytes were within the limit,
        but the hub's own serialization is what travels on (its numbers, its headers)."""
        wire = message.to_wire()
        limit = self.protocol.config.get("max_message_size")
        if isinstance(limit, int) and len(wire) > limit:
            raise MessageTooLargeError(
                f"message {message.message_id!r} is {len(wire)} bytes as the hub forwards it, "
                f"over max_message_size={limit}: send a smaller payload (or a reference to "
                "it) or raise max_message_size on the hub and the agents"
            )
        return wire

    async def route(self, messages: list[AgentMessage]) -> list[MessagingError | None]:
        """Deliver ``messages``; return, in order, ``None`` or the error of each."""
        protocol = self.protocol
        telemetry = protocol.telemetry
        results: list[MessagingError | None] = [None] * len(messages)
        groups: dict[str, tuple[AgentInfo, list[int]]] = {}
        planned = Planned()  # messages of this request to deliver so far
        for message in messages:
            clean_trace_headers(message.headers)
        spans = [telemetry.start_route_span(message) for message in messages]
        for index, message in enumerate(messages):
            try:
                recipient = self.check(message)
                planned.wires[message.message_id] = self._wire(message)
                if self.admit is not None:
                    self.admit(recipient, message, planned)
            except MessagingError as exc:
                results[index] = exc
                continue
            protocol.messages.add(message, protocol.clock.time())
            groups.setdefault(recipient.agent_id, (recipient, []))[1].append(index)
            planned.count += 1
            by_recipient = planned.by_recipient
            by_recipient[recipient.agent_id] = by_recipient.get(recipient.agent_id, 0) + 1

        async def deliver(recipient: AgentInfo, indexes: list[int]) -> None:
            group = [messages[i] for i in indexes]
            refused: dict[str, Exception]
            batch = (
                telemetry.batch_span(group, recipient.agent_id)
                if len(group) > 1
                else contextlib.nullcontext()
            )
            try:
                with batch:
                    refused = dict(await protocol.transport.deliver_many_async(group, recipient))
            except Exception as exc:
                refused = {message.message_id: exc for message in group}
            for index in indexes:
                message = messages[index]
                error = refused.get(message.message_id)
                if error is None:
                    telemetry.record_sent(message, routed=True)
                    if self.on_delivered is not None:
                        self.on_delivered(message, planned.wires.get(message.message_id))
                else:
                    results[index] = protocol.delivery_failed(message, error, routed=True)

        await asyncio.gather(*(deliver(r, indexes) for r, indexes in groups.values()))
        for span, result in zip(spans, results, strict=True):
            if result is not None:
                mark_failed(span, result)
                # Returned, never raised: without this its traceback's frames (this one
                # among them) would keep the request's parsed messages, megabytes each, in a
                # reference cycle until the collector runs (measured: a hub refusing ~1 MB
                # messages swung up to ~150 MiB higher).
                result.__traceback__ = None
            span.end()
        return results
