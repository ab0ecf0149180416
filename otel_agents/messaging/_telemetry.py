"""Spans and metrics of agent messaging, by the OpenTelemetry messaging conventions.

* Sending is a PRODUCER span ``send <destination>``; its context is injected into the
  envelope headers (``traceparent``, ``tracestate``, ``baggage``).
* Several messages posted in one HTTP request (a batch) go inside a CLIENT span ``send``
  with ``messaging.batch.message_count`` and a link to each message's own send span; the
  request carries that span's context, so the receiving server's span joins its trace.
* Processing is a CONSUMER span ``process <destination>`` that continues the sender's
  trace: a child of the send span for one message; for a broadcast, a new trace linked to
  the one send span. Handlers run inside it, so their work nests under it.
* Payloads, tokens and signing keys never become attributes. Metric attributes are bounded:
  the destination is a registered agent id, type and priority are enums.

Reading a received message's context lives in :mod:`._carried_context`; a span's lifetime
(current, ended, timed, failure recorded) in :mod:`._span_scope`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.metrics import Observation
from opentelemetry.trace import Span, SpanKind

from otel_agents import semconv as sc
from otel_agents._logs import redacting_logger
from otel_agents._observers import observe
from otel_agents._runtime import BoundedCache
from otel_agents._version import __version__, scope_name
from otel_agents.genai._context import Attribution, with_attribution
from otel_agents.messaging._carried_context import carries_span, message_link, process_context
from otel_agents.messaging._message import AgentMessage, MessagePriority, MessageType
from otel_agents.messaging._span_scope import SpanScope

__all__ = ["MessagingTelemetry"]

#: The meter (instrumentation scope) of every messaging instrument.
_SCOPE = scope_name(__name__)

_logger = redacting_logger("otel_agents.messaging")

#: Entries each memo keeps, and a kind of message as they key it (operation, destination ...).
_MEMO_SIZE = 10_000
_Kind = tuple[str, str, MessageType, MessagePriority]

_SEND = sc.MESSAGING_OPERATION_SEND
_PROCESS = sc.MESSAGING_OPERATION_PROCESS


class MessagingTelemetry:
    """Tracer, instruments and the span/metric recipes shared by every messaging component."""

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self._meter_provider = meter_provider
        self.tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider)
        self.meter = metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
        meter = self.meter
        self.sent = sc.create_instrument(meter, sc.MESSAGING_CLIENT_SENT_MESSAGES)
        self.consumed = sc.create_instrument(meter, sc.MESSAGING_CLIENT_CONSUMED_MESSAGES)
        self.process_duration = sc.create_instrument(meter, sc.MESSAGING_PROCESS_DURATION)
        self.operation_duration = sc.create_instrument(
            meter, sc.MESSAGING_CLIENT_OPERATION_DURATION
        )
        self.latency = sc.create_instrument(meter, sc.AGENT_MESSAGE_LATENCY)
        self.expired = sc.create_instrument(meter, sc.AGENT_MESSAGE_EXPIRED)
        self.failed = sc.create_instrument(meter, sc.AGENT_MESSAGE_FAILED)
        self.rejected = sc.create_instrument(meter, sc.AGENT_MESSAGE_REJECTED)
        self.routed = sc.create_instrument(meter, sc.AGENT_MESSAGE_ROUTED)
        self.registrations = sc.create_instrument(meter, sc.AGENT_REGISTRY_REGISTRATIONS)
        self.status_changes = sc.create_instrument(meter, sc.AGENT_STATUS_CHANGES)
        self._attributes: BoundedCache[_Kind, dict[str, str]] = BoundedCache(_MEMO_SIZE)
        self._names: BoundedCache[tuple[str, str], str] = BoundedCache(_MEMO_SIZE)
        self._span_bases: BoundedCache[_Kind, dict[str, Any]] = BoundedCache(_MEMO_SIZE)
        #: ``messaging.system``: ours, or the broker's when one carries the messages.
        self.system = sc.MESSAGING_SYSTEM_VALUE
        #: The broker's consumer group of an agent id, when a broker has them.
        self._group: Callable[[str], str] | None = None

    # -- observable gauges ------------------------------------------------------------------
    def observe(
        self,
        *,
        queue_depth: Callable[[], Iterable[tuple[str, MessagePriority, int]]] | None = None,
        agents_by_status: Callable[[], dict[str, int]] | None = None,
        heartbeat_ages: Callable[[], Iterable[tuple[str, float]]] | None = None,
    ) -> None:
        """Report the observable gauges these bound methods read, while their object lives.

        Each gauge is created once per meter provider (:func:`otel_agents._observers.observe`)
        with one callback over every live registry or transport: the SDK drops the
        callbacks of a second instrument of the same name, so one per protocol left every
        protocol but the first silent, and none once the first was dropped. The objects
        are held weakly: a dropped protocol's transport (its queued messages) and registry
        are freed, and their series go with them. Counts of several protocols add up.
        """
        if queue_depth is not None:
            self._observe(sc.AGENT_MESSAGE_QUEUE_DEPTH, queue_depth, _depths, summed=True)
        if agents_by_status is not None:
            self._observe(sc.AGENT_REGISTRY_AGENTS, agents_by_status, _statuses, summed=True)
        if heartbeat_ages is not None:
            self._observe(sc.AGENT_HEARTBEAT_AGE, heartbeat_ages, _ages, summed=False)

    def _observe(
        self,
        spec: sc.MetricSpec,
        bound: Callable[[], Any],
        observations: Callable[[Any], Iterable[Observation]],
        *,
        summed: bool,
        largest: bool = False,
    ) -> None:
        owner, method = getattr(bound, "__self__", None), getattr(bound, "__func__", None)
        if owner is None or method is None:
            raise TypeError(f"{spec.name}: pass a bound method (its object is held weakly)")

        def read(target: Any) -> Iterable[Observation]:
            return observations(method(target))

        observe(self._meter_provider, _SCOPE, spec, owner, read, summed=summed, largest=largest)

    def use_system(self, system: str, group: Callable[[str], str] | None = None) -> None:
        """Label every span and metric from now on with ``messaging.system`` = ``system``
        (a transport over a broker calls this once, before any message).

        ``group`` names the broker's consumer group of a recipient agent: the processing
        metrics carry it as ``messaging.consumer.group.name``, which the messaging
        conventions' consumer metrics require where there is one.
        """
        self.system = system
        self._group = group
        self._attributes = BoundedCache(_MEMO_SIZE)
        self._span_bases = BoundedCache(_MEMO_SIZE)

    def observe_lag(self, lag: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        """``agent.message.consumer.lag`` from ``(agent_id, consumer group, pending)``
        (a bound method, held weakly, as in :meth:`observe`)."""
        system = self.system

        def lags(rows: Iterable[tuple[str, str, int]]) -> Iterable[Observation]:
            return [
                Observation(
                    count,
                    {
                        sc.MESSAGING_SYSTEM: system,
                        sc.MESSAGING_DESTINATION_NAME: agent_id,
                        sc.MESSAGING_CONSUMER_GROUP_NAME: group,
                    },
                )
                for agent_id, group, count in rows
            ]

        # Each protocol on this provider reads the same broker: one consumer's backlog is
        # reported once (the largest reading), not once per protocol that sees it.
        self._observe(sc.AGENT_MESSAGE_CONSUMER_LAG, lag, lags, summed=False, largest=True)

    # -- attributes -------------------------------------------------------------------------
    def _name(self, template: str, destination: str) -> str:
        """A span name from its template, cached (destinations are registered agents)."""
        key = (template, destination)
        name = self._names.get(key)
        if name is None:
            name = template.format(destination=destination)
            self._names.put(key, name)
        return name

    def metric_attributes(
        self, operation: str, destination: str, kind: MessageType, priority: MessagePriority
    ) -> dict[str, str]:
        """The (cached) metric attributes of one kind of message; do not mutate."""
        key = (operation, destination, kind, priority)
        found = self._attributes.get(key)
        if found is None:
            found = {
                sc.MESSAGING_SYSTEM: self.system,
                sc.MESSAGING_OPERATION_NAME: operation,
                sc.MESSAGING_DESTINATION_NAME: destination,
                sc.AGENT_MESSAGE_TYPE: kind.value,
                sc.AGENT_MESSAGE_PRIORITY: priority.label,
            }
            if operation == _PROCESS and self._group is not None:
                # The consumer side (consumed, process duration): the recipient's group.
                found[sc.MESSAGING_CONSUMER_GROUP_NAME] = self._group(destination)
            self._attributes.put(key, found)
        return found

    def _span_attributes(
        self, operation: str, destination: str, message: AgentMessage
    ) -> dict[str, Any]:
        """A fresh dict of the attributes every span of this kind of message carries."""
        key = (operation, destination, message.message_type, message.priority)
        base = self._span_bases.get(key)
        if base is None:
            base = {
                sc.MESSAGING_SYSTEM: self.system,
                sc.MESSAGING_OPERATION_NAME: operation,
                sc.MESSAGING_OPERATION_TYPE: operation,
                sc.MESSAGING_DESTINATION_NAME: destination,
                sc.AGENT_MESSAGE_TYPE: message.message_type.value,
                sc.AGENT_MESSAGE_PRIORITY: message.priority.label,
            }
            self._span_bases.put(key, base)
        attributes = dict(base)
        if message.conversation_id is not None:
            attributes[sc.MESSAGING_MESSAGE_CONVERSATION_ID] = message.conversation_id
        return attributes

    # -- sending ----------------------------------------------------------------------------
    def send_span(
        self,
        message: AgentMessage,
        *,
        sender_name: str | None,
        recipient_name: str | None = None,
        body_size: int | None = None,
        broadcast_count: int | None = None,
    ) -> AbstractContextManager[Span]:
        """A PRODUCER span around one send (or one broadcast, when ``broadcast_count``).

        The span's context is injected into ``message.headers``. Errors raised inside mark
        the span failed with ``error.type`` and propagate.
        """
        broadcast = broadcast_count is not None
        destination = sc.MESSAGING_BROADCAST_DESTINATION if broadcast else message.recipient_id
        attributes = self._span_attributes(_SEND, destination, message)
        attributes[sc.GEN_AI_AGENT_ID] = message.sender_id
        if sender_name is not None:
            attributes[sc.GEN_AI_AGENT_NAME] = sender_name
        if broadcast:
            attributes[sc.MESSAGING_BATCH_MESSAGE_COUNT] = broadcast_count
        else:
            attributes[sc.MESSAGING_MESSAGE_ID] = message.message_id
            attributes[sc.AGENT_MESSAGE_RECIPIENT_ID] = message.recipient_id
            if recipient_name is not None:
                attributes[sc.AGENT_MESSAGE_RECIPIENT_NAME] = recipient_name
        if body_size is not None:
            attributes[sc.MESSAGING_MESSAGE_BODY_SIZE] = body_size
        span = self.tracer.start_span(
            self._name(sc.MESSAGING_SEND_SPAN, destination),
            kind=SpanKind.PRODUCER,
            attributes=attributes,
        )
        context = trace.set_span_in_context(span)
        propagate.inject(message.headers, context=context)
        kind = (_SEND, destination, message.message_type, message.priority)
        metric = {**self.metric_attributes(*kind), sc.MESSAGING_OPERATION_TYPE: _SEND}
        return SpanScope(span, context, self.operation_duration, metric, None)

    def batch_span(
        self, messages: list[AgentMessage], destination: str | None = None, *, root: bool = False
    ) -> AbstractContextManager[Span]:
        """A CLIENT ``send`` span, made current, around one HTTP request carrying ``messages``.

        Each message keeps its own trace; the batch span links to them (messaging
        conventions for batch sends). ``destination``: the one recipient, when there is one.
        ``root``: start a trace of its own rather than continue the current context (a
        sender's background flush has no request of its own to belong to).
        """
        attributes: dict[str, Any] = {
            sc.MESSAGING_SYSTEM: self.system,
            sc.MESSAGING_OPERATION_NAME: _SEND,
            sc.MESSAGING_OPERATION_TYPE: _SEND,
            sc.MESSAGING_BATCH_MESSAGE_COUNT: len(messages),
        }
        if destination is not None:
            attributes[sc.MESSAGING_DESTINATION_NAME] = destination
        links = [link for link in map(message_link, messages) if link is not None]
        span = self.tracer.start_span(
            _SEND,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            links=links,
            context=Context() if root else None,
        )
        return SpanScope(span, trace.set_span_in_context(span))

    def record_sent(
        self, message: AgentMessage, error_type: str | None = None, *, routed: bool = False
    ) -> None:
        """Count one attempted send; a failed one also counts in ``agent.message.failed``.

        ``routed`` marks the hub forwarding a message on: that counts in
        ``agent.message.routed``, so ``messaging.client.sent.messages`` counts each message
        once, at its sender (the hub is a broker, not a client).
        """
        attributes = self.metric_attributes(
            _SEND, message.recipient_id, message.message_type, message.priority
        )
        counter = self.routed if routed else self.sent
        if error_type is None:
            counter.add(1, attributes)
            return
        attributes = {**attributes, sc.ERROR_TYPE: error_type}
        counter.add(1, attributes)
        self.failed.add(1, attributes)

    def record_expired(self, message: AgentMessage, operation: str) -> None:
        self.expired.add(
            1,
            self.metric_attributes(
                operation, message.recipient_id, message.message_type, message.priority
            ),
        )

    def record_rejected(self, reason: str) -> None:
        self.rejected.add(1, {sc.ERROR_TYPE: reason})

    def start_route_span(self, message: AgentMessage) -> Span:
        """An INTERNAL ``route <recipient>`` span of the hub in the message's own trace.

        An envelope without trace context (posted by an uninstrumented client, say through
        the gateway) continues the current context instead, the hub's HTTP server span, and
        the route span's context goes into ``message.headers`` so that the recipient's
        ``process`` span continues that trace too. Not made current: a batch routes many
        messages at once. End it when delivered.
        """
        parent: Context | None
        parent, _ = process_context(message)
        adopt = not message.broadcast and not carries_span(parent)
        if adopt:
            parent = None  # the current context
        attributes = self._span_attributes(
            sc.MESSAGING_OPERATION_ROUTE, message.recipient_id, message
        )
        del attributes[sc.MESSAGING_OPERATION_TYPE]  # "route" is not a semconv operation type
        attributes[sc.MESSAGING_MESSAGE_ID] = message.message_id
        attributes[sc.AGENT_MESSAGE_SENDER_ID] = message.sender_id
        attributes[sc.AGENT_MESSAGE_RECIPIENT_ID] = message.recipient_id
        span = self.tracer.start_span(
            sc.MESSAGING_ROUTE_SPAN.format(destination=message.recipient_id),
            context=parent,
            attributes=attributes,
        )
        if adopt:
            propagate.inject(message.headers, context=trace.set_span_in_context(span))
        return span

    # -- processing -------------------------------------------------------------------------
    def process_span(
        self,
        message: AgentMessage,
        *,
        now: float,
        recipient_name: str | None,
        sender_name: str | None,
        extra: dict[str, Any] | None = None,
    ) -> AbstractContextManager[Span]:
        """A CONSUMER span around the handlers of one message; handler errors propagate.
        ``extra``: attributes the transport adds (the broker's consumer, delivery count)."""
        destination = (
            sc.MESSAGING_BROADCAST_DESTINATION if message.broadcast else message.recipient_id
        )
        attributes = self._span_attributes(_PROCESS, destination, message)
        attributes[sc.MESSAGING_MESSAGE_ID] = message.message_id
        attributes[sc.GEN_AI_AGENT_ID] = message.recipient_id
        if recipient_name is not None:
            attributes[sc.GEN_AI_AGENT_NAME] = recipient_name
        attributes[sc.AGENT_MESSAGE_SENDER_ID] = message.sender_id
        if sender_name is not None:
            attributes[sc.AGENT_MESSAGE_SENDER_NAME] = sender_name
        if extra:
            attributes.update(extra)
        parent, links = process_context(message)
        metric_attributes = self.metric_attributes(
            _PROCESS, message.recipient_id, message.message_type, message.priority
        )
        self.consumed.add(1, metric_attributes)
        self.latency.record(max(0.0, now - message.created_at), metric_attributes)
        span = self.tracer.start_span(
            self._name(sc.MESSAGING_PROCESS_SPAN, destination),
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            links=links,
        )
        # The extracted context is attached, not just used as parent, so that its baggage
        # reaches the handlers, which run with the process span current. The handlers' GenAI
        # work (model calls, invoke_agent) is attributed to the recipient and the message's
        # conversation.
        context = with_attribution(
            Attribution(message.recipient_id, recipient_name, message.conversation_id),
            trace.set_span_in_context(span, parent),
        )
        return SpanScope(span, context, self.process_duration, metric_attributes, self.failed)


def _depths(rows: Iterable[tuple[str, MessagePriority, int]]) -> list[Observation]:
    return [
        Observation(count, {sc.GEN_AI_AGENT_ID: agent_id, sc.AGENT_MESSAGE_PRIORITY: prio.label})
        for agent_id, prio, count in rows
    ]


def _statuses(counts: dict[str, int]) -> list[Observation]:
    return [Observation(n, {sc.AGENT_STATUS: status}) for status, n in counts.items()]


def _ages(rows: Iterable[tuple[str, float]]) -> list[Observation]:
    return [Observation(age, {sc.GEN_AI_AGENT_ID: agent_id}) for agent_id, age in rows]
