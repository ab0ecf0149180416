"""Every telemetry name otel-agents emits: metrics, units, attributes and span names.

This module is the telemetry contract. Code, dashboards, alert rules and tests take their
names from here and nowhere else, so a rename happens in one place or not at all.

Names follow the OpenTelemetry semantic conventions where one exists (``gen_ai.agent.id``,
``error.type``, ``system.*``, ``process.*``, ``messaging.*``, ``http.*``). Our own names live
in the :data:`CUSTOM_NAMESPACES` (``agent.*``, ``gateway.*``, ``alert.*``, ``otel_agents.*``),
with UCUM units; ``docs/prometheus-names.md`` (Namespaces) says why these and not one
project prefix, and when that would change. Two rules keep the Prometheus names identical
whether metrics are scraped from the SDK's Prometheus exporter or translated by the
Collector:

* durations are histograms in seconds (``s``), with explicit bucket boundaries;
* our own gauges never use the unit ``1`` (the Collector appends ``_ratio`` to those and the
  Python exporter does not); percentages use ``%`` and counts use ``{annotation}`` units.

Each metric is declared once as a :class:`MetricSpec`; :func:`create_instrument` builds the
instrument with its unit, description and bucket advice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackT, Meter

# Every public name: the constants are the contract (tests/test_exported_members.py checks
# that each one is listed).
__all__ = [
    "AGENT_ALERTS_ACTIVE",
    "AGENT_ALERTS_RAISED",
    "AGENT_CONTEXT_PREFIX",
    "AGENT_CONVERSATION_COST",
    "AGENT_CONVERSATION_COST_ATTRIBUTE",
    "AGENT_CONVERSATION_TOKENS",
    "AGENT_CONVERSATION_TOKENS_ATTRIBUTE",
    "AGENT_CPU_USAGE",
    "AGENT_ERRORS",
    "AGENT_ERROR_RATE",
    "AGENT_HEALTH_SCORE",
    "AGENT_HEARTBEAT_AGE",
    "AGENT_MEMORY_USAGE",
    "AGENT_MESSAGE_CONSUMER_LAG",
    "AGENT_MESSAGE_DEAD_LETTERED",
    "AGENT_MESSAGE_DELIVERY_COUNT",
    "AGENT_MESSAGE_EXPIRED",
    "AGENT_MESSAGE_FAILED",
    "AGENT_MESSAGE_LATENCY",
    "AGENT_MESSAGE_PRIORITY",
    "AGENT_MESSAGE_QUEUE_DEPTH",
    "AGENT_MESSAGE_RECIPIENT_ID",
    "AGENT_MESSAGE_RECIPIENT_NAME",
    "AGENT_MESSAGE_REDELIVERED",
    "AGENT_MESSAGE_REJECTED",
    "AGENT_MESSAGE_ROUTED",
    "AGENT_MESSAGE_SENDER_ID",
    "AGENT_MESSAGE_SENDER_NAME",
    "AGENT_MESSAGE_TYPE",
    "AGENT_METRIC_TYPE",
    "AGENT_MODEL_CALLS",
    "AGENT_MODEL_COST",
    "AGENT_MODEL_FINISH_REASON",
    "AGENT_MODEL_FINISH_REASONS",
    "AGENT_MODEL_FINISH_REASON_NONE",
    "AGENT_MODEL_FINISH_REASON_OTHER",
    "AGENT_MODEL_UNPRICED",
    "AGENT_NETWORK_LATENCY",
    "AGENT_OPERATION",
    "AGENT_PROFILE_DURATION",
    "AGENT_PROFILE_NAME",
    "AGENT_QUEUE_SIZE",
    "AGENT_REGISTRY_AGENTS",
    "AGENT_REGISTRY_REGISTRATIONS",
    "AGENT_REQUESTS",
    "AGENT_RESPONSE_DURATION",
    "AGENT_STATUS",
    "AGENT_STATUS_CHANGES",
    "AGENT_TASK_DURATION",
    "AGENT_THROUGHPUT",
    "AGENT_TOOL_CALLS",
    "ALERT_CONTEXT_PREFIX",
    "ALERT_COUNT",
    "ALERT_EVENT",
    "ALERT_ID",
    "ALERT_LEVEL",
    "ALERT_MESSAGE",
    "ALERT_RESOLVED_EVENT",
    "ALERT_RULE",
    "ALERT_SOURCE",
    "ALL_METRICS",
    "AUDIT_ACTION",
    "AUDIT_ACTOR",
    "AUDIT_ACTOR_ADMIN",
    "AUDIT_ACTOR_ANONYMOUS",
    "AUDIT_AGENT_REGISTER",
    "AUDIT_AGENT_UNREGISTER",
    "AUDIT_ALERT_ACKNOWLEDGE",
    "AUDIT_ALERT_RESOLVE",
    "AUDIT_DETAIL_PREFIX",
    "AUDIT_EVENT",
    "AUDIT_GATEWAY_ADMIN",
    "AUDIT_OUTCOME",
    "AUDIT_OUTCOME_DENIED",
    "AUDIT_OUTCOME_FAILURE",
    "AUDIT_OUTCOME_SUCCESS",
    "AUDIT_TARGET",
    "CLIENT_ADDRESS",
    "CLIENT_PORT",
    "CODE_FUNCTION_NAME",
    "CONTEXT_KEY_ATTRIBUTES",
    "CPU_MODE",
    "CUSTOM_NAMESPACES",
    "DEPLOYMENT_ENVIRONMENT_NAME",
    "DISK_IO_DIRECTION",
    "DURATION_BUCKETS",
    "ERROR_TYPE",
    "ERROR_TYPE_CONTEXT_KEY",
    "ERROR_TYPE_OTHER",
    "EXCEPTION_EVENT",
    "EXCEPTION_MESSAGE",
    "EXCEPTION_STACKTRACE",
    "EXCEPTION_TYPE",
    "GATEWAY_ACTIVE_REQUESTS",
    "GATEWAY_ERROR_FORBIDDEN_ADDRESS",
    "GATEWAY_ERROR_INVALID_HEADER",
    "GATEWAY_ERROR_INVALID_PATH",
    "GATEWAY_ERROR_REQUEST_ABORTED",
    "GATEWAY_ERROR_REQUEST_TIMEOUT",
    "GATEWAY_ERROR_RESPONSE_ABORTED",
    "GATEWAY_ERROR_RESPONSE_TIMEOUT",
    "GATEWAY_HEALTH_STATE",
    "GATEWAY_HEALTH_TRANSITIONS",
    "GATEWAY_INSTANCES_HEALTHY",
    "GATEWAY_RATE_LIMITED",
    "GATEWAY_RATE_LIMIT_SCOPE",
    "GATEWAY_RATE_LIMIT_SCOPE_CLIENT",
    "GATEWAY_RATE_LIMIT_SCOPE_OVERFLOW",
    "GATEWAY_RATE_LIMIT_SCOPE_SERVICE",
    "GATEWAY_REQUESTS",
    "GATEWAY_SERVICE_ID",
    "GATEWAY_STATUS_CLASS",
    "GATEWAY_UPSTREAM_ERRORS",
    "GEN_AI_AGENT_ID",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_CLIENT_OPERATION_DURATION",
    "GEN_AI_CLIENT_TOKEN_USAGE",
    "GEN_AI_CONVERSATION_ID",
    "GEN_AI_DURATION_BUCKETS",
    "GEN_AI_EXECUTE_TOOL_SPAN",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_INVOKE_AGENT_SPAN",
    "GEN_AI_MODEL_SPAN",
    "GEN_AI_OPERATION_CHAT",
    "GEN_AI_OPERATION_CREATE_AGENT",
    "GEN_AI_OPERATION_EMBEDDINGS",
    "GEN_AI_OPERATION_EXECUTE_TOOL",
    "GEN_AI_OPERATION_GENERATE_CONTENT",
    "GEN_AI_OPERATION_INVOKE_AGENT",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_OPERATION_TEXT_COMPLETION",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_PROVIDER_UNKNOWN",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_ID",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_SYSTEM",
    "GEN_AI_TOKEN_BUCKETS",
    "GEN_AI_TOKEN_TYPE",
    "GEN_AI_TOKEN_TYPE_INPUT",
    "GEN_AI_TOKEN_TYPE_OUTPUT",
    "GEN_AI_TOOL_CALL_ID",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_TOOL_TYPE",
    "GEN_AI_TOOL_TYPE_FUNCTION",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "HEALTH_SCOPE",
    "HEALTH_SCOPE_AGENT",
    "HEALTH_SCOPE_SYSTEM",
    "HTTP_CLIENT_REQUEST_DURATION",
    "HTTP_KNOWN_METHODS",
    "HTTP_METHOD_OTHER",
    "HTTP_REQUEST_METHOD",
    "HTTP_REQUEST_METHOD_ORIGINAL",
    "HTTP_RESPONSE_STATUS_CODE",
    "HTTP_ROUTE",
    "HTTP_SERVER_DURATION",
    "HTTP_SERVER_REQUEST_DURATION",
    "HTTP_SERVER_SPAN",
    "HTTP_SPAN_METHOD_OTHER",
    "HTTP_TARGET",
    "HTTP_URL",
    "MESSAGING_BATCH_MESSAGE_COUNT",
    "MESSAGING_BROADCAST_DESTINATION",
    "MESSAGING_CLIENT_CONSUMED_MESSAGES",
    "MESSAGING_CLIENT_OPERATION_DURATION",
    "MESSAGING_CLIENT_SENT_MESSAGES",
    "MESSAGING_CONSUMER_GROUP_NAME",
    "MESSAGING_DESTINATION_NAME",
    "MESSAGING_MESSAGE_BODY_SIZE",
    "MESSAGING_MESSAGE_CONVERSATION_ID",
    "MESSAGING_MESSAGE_ID",
    "MESSAGING_OPERATION_NAME",
    "MESSAGING_OPERATION_PROCESS",
    "MESSAGING_OPERATION_ROUTE",
    "MESSAGING_OPERATION_SEND",
    "MESSAGING_OPERATION_TYPE",
    "MESSAGING_PROCESS_DURATION",
    "MESSAGING_PROCESS_SPAN",
    "MESSAGING_ROUTE_SPAN",
    "MESSAGING_SEND_SPAN",
    "MESSAGING_SYSTEM",
    "MESSAGING_SYSTEM_NATS",
    "MESSAGING_SYSTEM_VALUE",
    "NETWORK_IO_DIRECTION",
    "NETWORK_PROTOCOL_VERSION",
    "OTEL_METRIC_OVERFLOW",
    "OTEL_SDK_ERROR_QUEUE_FULL",
    "OTEL_SDK_EXPORTER_LOG_EXPORTED",
    "OTEL_SDK_EXPORTER_METRIC_DATA_POINT_EXPORTED",
    "OTEL_SDK_EXPORTER_SPAN_EXPORTED",
    "OTEL_SDK_PROCESSOR_LOG_PROCESSED",
    "OTEL_SDK_PROCESSOR_SPAN_PROCESSED",
    "PROCESS_CPU_TIME",
    "PROCESS_CPU_UTILIZATION",
    "PROCESS_MEMORY_USAGE",
    "PROCESS_MEMORY_VIRTUAL",
    "PROCESS_THREAD_COUNT",
    "SEMCONV_DURATION_BUCKETS",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "SERVICE_INSTANCE_ID",
    "SERVICE_NAME",
    "SPAN_KIND",
    "SPAN_METRICS_CALLS",
    "SPAN_METRICS_DURATION",
    "SPAN_METRICS_NAMESPACE",
    "SPAN_NAME",
    "STATUS_CODE",
    "STATUS_CODE_ERROR",
    "SYSTEM_CPU_UTILIZATION",
    "SYSTEM_DISK_IO",
    "SYSTEM_MEMORY_STATE",
    "SYSTEM_MEMORY_USAGE",
    "SYSTEM_MEMORY_UTILIZATION",
    "SYSTEM_NETWORK_IO",
    "UNIT_BYTES",
    "UNIT_PERCENT",
    "UNIT_RATIO",
    "UNIT_SECONDS",
    "UNIT_USD",
    "URL_FULL",
    "URL_PATH",
    "URL_QUERY",
    "URL_SCHEME",
    "USER_AGENT_ORIGINAL",
    "USER_AGENT_SYNTHETIC_TYPE",
    "InstrumentKind",
    "MetricSpec",
    "create_instrument",
]

#: The top-level namespaces of our own names (no semantic convention defines these
#: concepts). None of them is a namespace of the OpenTelemetry semantic conventions, which
#: ``tests/test_namespaces.py`` checks against the installed registry; every other name here
#: is under a registry namespace.
CUSTOM_NAMESPACES = ("agent", "alert", "gateway", "otel_agents")

# --------------------------------------------------------------------------------------
# Attribute keys
# --------------------------------------------------------------------------------------
GEN_AI_AGENT_ID = "gen_ai.agent.id"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
ERROR_TYPE = "error.type"
#: Exception event attributes (the SDK's record_exception); otel-agents redacts both.
EXCEPTION_EVENT = "exception"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"
EXCEPTION_TYPE = "exception.type"
CODE_FUNCTION_NAME = "code.function.name"
SERVICE_INSTANCE_ID = "service.instance.id"
OTEL_METRIC_OVERFLOW = "otel.metric.overflow"

CPU_MODE = "cpu.mode"
SYSTEM_MEMORY_STATE = "system.memory.state"
DISK_IO_DIRECTION = "disk.io.direction"
NETWORK_IO_DIRECTION = "network.io.direction"

AGENT_PROFILE_NAME = "agent.profile.name"
AGENT_METRIC_TYPE = "agent.metric.type"
#: Prefix for tracker context keys promoted to metric attributes (``metric_attribute_keys``).
AGENT_CONTEXT_PREFIX = "agent.context."
#: The tracker's and profiler's free-form ``context["operation"]`` (``data_processing``,
#: ``plan``...). Not ``gen_ai.operation.name``: the GenAI conventions reserve that one for
#: their well-known values (``chat``, ``invoke_agent``, ``execute_tool``...).
AGENT_OPERATION = "agent.operation"
#: Tracker context keys with an attribute name of their own.
CONTEXT_KEY_ATTRIBUTES = {"operation": AGENT_OPERATION}
#: The tracker context key whose value an ``error_count`` reports as ``error.type`` on
#: ``agent.errors`` (``{"error_type": "TimeoutError"}``; bounded by the tracker).
ERROR_TYPE_CONTEXT_KEY = "error_type"
#: ``error.type`` of an error whose type is not a short identifier, or one past the limit of
#: distinct types (the OpenTelemetry conventions' fallback value, as for HTTP methods): the
#: tracker's ``agent.errors`` and the GenAI metrics use it alike.
ERROR_TYPE_OTHER = "_OTHER"

# --------------------------------------------------------------------------------------
# Units (UCUM, as the OpenTelemetry conventions use them)
# --------------------------------------------------------------------------------------
UNIT_SECONDS = "s"
UNIT_BYTES = "By"
UNIT_PERCENT = "%"
UNIT_RATIO = "1"  # only for semantic-convention metrics that define it (system.*, process.*)
#: US dollars, as an annotation: ``{USD}`` adds no suffix to the Prometheus name on either path.
UNIT_USD = "{USD}"

#: Bucket boundaries for every duration histogram, in seconds: 1 ms to 10 minutes. Every
#: threshold an alert rule compares a quantile of these histograms with is a boundary (2 s:
#: ``slow_agent``): between two boundaries ``histogram_quantile`` interpolates, and responses
#: of 1.1 s would read as a p95 of 2.4 s (tests/stack/test_rule_thresholds.py).
DURATION_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)

#: The boundaries the OpenTelemetry HTTP and messaging conventions advise for their duration
#: histograms (``http.server.request.duration``, ``http.client.request.duration``,
#: ``messaging.client.operation.duration``, ``messaging.process.duration``), in seconds: 5 ms
#: to 10 s.
SEMCONV_DURATION_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)


class InstrumentKind(StrEnum):
    """The OpenTelemetry instrument a :class:`MetricSpec` is built as."""

    COUNTER = "counter"
    UP_DOWN_COUNTER = "up_down_counter"
    HISTOGRAM = "histogram"
    GAUGE = "gauge"
    OBSERVABLE_COUNTER = "observable_counter"
    OBSERVABLE_UP_DOWN_COUNTER = "observable_up_down_counter"
    OBSERVABLE_GAUGE = "observable_gauge"

    @property
    def observable(self) -> bool:
        return self.value.startswith("observable_")


@dataclass(frozen=True)
class MetricSpec:
    """One metric of the contract: its name, instrument kind, unit and description."""

    name: str
    kind: InstrumentKind
    unit: str
    description: str
    buckets: Sequence[float] | None = None


ALL_METRICS: dict[str, MetricSpec] = {}


def _metric(
    name: str,
    kind: InstrumentKind,
    unit: str,
    description: str,
    *,
    duration: bool = False,
    buckets: Sequence[float] | None = None,
) -> MetricSpec:
    if name in ALL_METRICS:
        raise RuntimeError(f"metric {name!r} is declared twice in otel_agents.semconv")
    if buckets is None and duration:
        buckets = DURATION_BUCKETS
    spec = MetricSpec(name, kind, unit, description, buckets)
    ALL_METRICS[name] = spec
    return spec


def create_instrument(
    meter: Meter, spec: MetricSpec, callbacks: Sequence[CallbackT] | None = None
) -> Any:
    """Create the instrument described by ``spec`` on ``meter``.

    Histograms carry explicit bucket advice, so good boundaries apply even under a
    MeterProvider that otel-agents did not configure. Observable kinds take ``callbacks``.
    """
    if spec.kind.observable:
        factories: dict[InstrumentKind, Callable[..., Any]] = {
            InstrumentKind.OBSERVABLE_COUNTER: meter.create_observable_counter,
            InstrumentKind.OBSERVABLE_UP_DOWN_COUNTER: meter.create_observable_up_down_counter,
            InstrumentKind.OBSERVABLE_GAUGE: meter.create_observable_gauge,
        }
        return factories[spec.kind](
            spec.name, callbacks=callbacks, unit=spec.unit, description=spec.description
        )
    if callbacks:
        raise ValueError(f"callbacks are only for observable instruments, not {spec.name!r}")
    if spec.kind is InstrumentKind.HISTOGRAM:
        return meter.create_histogram(
            spec.name,
            unit=spec.unit,
            description=spec.description,
            explicit_bucket_boundaries_advisory=spec.buckets,
        )
    synchronous: dict[InstrumentKind, Callable[..., Any]] = {
        InstrumentKind.COUNTER: meter.create_counter,
        InstrumentKind.UP_DOWN_COUNTER: meter.create_up_down_counter,
        InstrumentKind.GAUGE: meter.create_gauge,
    }
    return synchronous[spec.kind](spec.name, unit=spec.unit, description=spec.description)


# --------------------------------------------------------------------------------------
# Tracker metrics: one per MetricType (otel_agents._tracker)
# --------------------------------------------------------------------------------------
AGENT_RESPONSE_DURATION = _metric(
    "agent.response.duration",
    InstrumentKind.HISTOGRAM,
    UNIT_SECONDS,
    "Time an agent took to respond.",
    duration=True,
)
AGENT_TASK_DURATION = _metric(
    "agent.task.duration",
    InstrumentKind.HISTOGRAM,
    UNIT_SECONDS,
    "Time an agent took to complete a task.",
    duration=True,
)
AGENT_NETWORK_LATENCY = _metric(
    "agent.network.latency",
    InstrumentKind.HISTOGRAM,
    UNIT_SECONDS,
    "Network round-trip latency observed by an agent.",
    duration=True,
)
AGENT_CPU_USAGE = _metric(
    "agent.cpu.usage", InstrumentKind.OBSERVABLE_GAUGE, UNIT_PERCENT, "CPU used by an agent, 0-100."
)
AGENT_MEMORY_USAGE = _metric(
    "agent.memory.usage", InstrumentKind.OBSERVABLE_GAUGE, UNIT_BYTES, "Memory used by an agent."
)
AGENT_THROUGHPUT = _metric(
    "agent.throughput",
    InstrumentKind.OBSERVABLE_GAUGE,
    "{operation}/s",
    "Operations an agent completes per second.",
)
AGENT_ERROR_RATE = _metric(
    "agent.error.rate",
    InstrumentKind.OBSERVABLE_GAUGE,
    UNIT_PERCENT,
    "Share of an agent's operations that failed, 0-100.",
)
AGENT_QUEUE_SIZE = _metric(
    "agent.queue.size",
    InstrumentKind.OBSERVABLE_GAUGE,
    "{item}",
    "Items waiting in an agent's queue.",
)
AGENT_REQUESTS = _metric(
    "agent.requests", InstrumentKind.COUNTER, "{request}", "Requests an agent handled."
)
AGENT_ERRORS = _metric("agent.errors", InstrumentKind.COUNTER, "{error}", "Errors an agent hit.")

# --------------------------------------------------------------------------------------
# Profiler (otel_agents._profiler)
# --------------------------------------------------------------------------------------
AGENT_PROFILE_DURATION = _metric(
    "agent.profile.duration",
    InstrumentKind.HISTOGRAM,
    UNIT_SECONDS,
    "Duration of a profiled function or block.",
    duration=True,
)

# --------------------------------------------------------------------------------------
# System and process metrics (otel_agents._system_metrics), by the semantic conventions
# --------------------------------------------------------------------------------------
SYSTEM_CPU_UTILIZATION = _metric(
    "system.cpu.utilization",
    InstrumentKind.OBSERVABLE_GAUGE,
    UNIT_RATIO,
    "Share of CPU time spent in each mode since the last collection, 0-1.",
)
SYSTEM_MEMORY_USAGE = _metric(
    "system.memory.usage",
    InstrumentKind.OBSERVABLE_UP_DOWN_COUNTER,
    UNIT_BYTES,
    "Memory in use, by state.",
)
SYSTEM_MEMORY_UTILIZATION = _metric(
    "system.memory.utilization",
    InstrumentKind.OBSERVABLE_GAUGE,
    UNIT_RATIO,
    "Share of memory in each state, 0-1.",
)
SYSTEM_DISK_IO = _metric(
    "system.disk.io", InstrumentKind.OBSERVABLE_COUNTER, UNIT_BYTES, "Disk bytes transferred."
)
SYSTEM_NETWORK_IO = _metric(
    "system.network.io",
    InstrumentKind.OBSERVABLE_COUNTER,
    UNIT_BYTES,
    "Network bytes transferred.",
)
PROCESS_CPU_TIME = _metric(
    "process.cpu.time", InstrumentKind.OBSERVABLE_COUNTER, UNIT_SECONDS, "CPU time used."
)
PROCESS_CPU_UTILIZATION = _metric(
    "process.cpu.utilization",
    InstrumentKind.OBSERVABLE_GAUGE,
    UNIT_RATIO,
    "Share of the CPUs available to this process it used since the last collection, by mode.",
)
PROCESS_MEMORY_USAGE = _metric(
    "process.memory.usage",
    InstrumentKind.OBSERVABLE_UP_DOWN_COUNTER,
    UNIT_BYTES,
    "Resident memory of this process.",
)
PROCESS_MEMORY_VIRTUAL = _metric(
    "process.memory.virtual",
    InstrumentKind.OBSERVABLE_UP_DOWN_COUNTER,
    UNIT_BYTES,
    "Virtual memory of this process.",
)
PROCESS_THREAD_COUNT = _metric(
    "process.thread.count",
    InstrumentKind.OBSERVABLE_UP_DOWN_COUNTER,
    "{thread}",
    "Threads of this process.",
)

# --------------------------------------------------------------------------------------
# Agent messaging (otel_agents.messaging)
# --------------------------------------------------------------------------------------
# Attributes from the messaging semantic conventions.
MESSAGING_SYSTEM = "messaging.system"
MESSAGING_OPERATION_NAME = "messaging.operation.name"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_DESTINATION_NAME = "messaging.destination.name"
MESSAGING_MESSAGE_ID = "messaging.message.id"
MESSAGING_MESSAGE_CONVERSATION_ID = "messaging.message.conversation_id"
MESSAGING_MESSAGE_BODY_SIZE = "messaging.message.body.size"
MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"
#: ``messaging.system`` of otel-agents' own message protocol (a custom value, as allowed).
MESSAGING_SYSTEM_VALUE = "otel_agents"
#: ``messaging.system`` of messages carried by NATS JetStream (the value NATS
#: instrumentations use; not in the conventions' well-known list).
MESSAGING_SYSTEM_NATS = "nats"
#: The durable consumers that receive an agent's messages (messaging conventions).
MESSAGING_CONSUMER_GROUP_NAME = "messaging.consumer.group.name"
MESSAGING_OPERATION_SEND = "send"
MESSAGING_OPERATION_PROCESS = "process"
#: The destination of a broadcast: every registered agent but the sender.
MESSAGING_BROADCAST_DESTINATION = "broadcast"
#: Span names, ``{messaging.operation.name} {destination}``; destinations are agent ids.
MESSAGING_SEND_SPAN = "send {destination}"
MESSAGING_PROCESS_SPAN = "process {destination}"
#: The hub forwarding a message: an INTERNAL span in the message's trace (not a semconv type).
MESSAGING_OPERATION_ROUTE = "route"
MESSAGING_ROUTE_SPAN = "route {destination}"
# Our own attributes: the other party of a message, its type and priority, agent status.
AGENT_MESSAGE_TYPE = "agent.message.type"
AGENT_MESSAGE_PRIORITY = "agent.message.priority"
AGENT_MESSAGE_SENDER_ID = "agent.message.sender.id"
AGENT_MESSAGE_SENDER_NAME = "agent.message.sender.name"
AGENT_MESSAGE_RECIPIENT_ID = "agent.message.recipient.id"
AGENT_MESSAGE_RECIPIENT_NAME = "agent.message.recipient.name"
AGENT_STATUS = "agent.status"
#: How many times the broker delivered a message, this delivery included (1: first).
AGENT_MESSAGE_DELIVERY_COUNT = "agent.message.delivery_count"

MESSAGING_CLIENT_SENT_MESSAGES = _metric(
    "messaging.client.sent.messages",
    InstrumentKind.COUNTER,
    "{message}",
    "Messages an agent attempted to send; failed attempts carry error.type.",
)
MESSAGING_CLIENT_CONSUMED_MESSAGES = _metric(
    "messaging.client.consumed.messages",
    InstrumentKind.COUNTER,
    "{message}",
    "Messages delivered to a recipient agent's handlers.",
)
MESSAGING_CLIENT_OPERATION_DURATION = _metric(
    "messaging.client.operation.duration",
    InstrumentKind.HISTOGRAM,
    UNIT_SECONDS,
    "Duration of a send (or broadcast) an agent made, by destination; failures carry error.type.",
    buckets=SEMCONV_DURATION_BUCKETS,
)
MESSAGING_PROCESS_DURATION = _metric(
    "messaging.process.duration",
    InstrumentKind.HISTOGRAM,
    UNIT_SECONDS,
    "Time a recipient agent's handlers took to process a message.",
    buckets=SEMCONV_DURATION_BUCKETS,  # the messaging conventions' advice for this metric
)
AGENT_MESSAGE_LATENCY = _metric(
    "agent.message.latency",
    InstrumentKind.HISTOGRAM,
    UNIT_SECONDS,
    "End-to-end time from sending a message to the start of its processing.",
    duration=True,
)
AGENT_MESSAGE_EXPIRED = _metric(
    "agent.message.expired",
    InstrumentKind.COUNTER,
    "{message}",
    "Messages not delivered because they outlived message_timeout.",
)
AGENT_MESSAGE_FAILED = _metric(
    "agent.message.failed",
    InstrumentKind.COUNTER,
    "{message}",
    "Messages whose delivery or processing failed, by error.type and operation.",
)
AGENT_MESSAGE_ROUTED = _metric(
    "agent.message.routed",
    InstrumentKind.COUNTER,
    "{message}",
    "Messages the hub forwarded to a recipient (a broker does not count as a sender).",
)
AGENT_MESSAGE_REJECTED = _metric(
    "agent.message.rejected",
    InstrumentKind.COUNTER,
    "{message}",
    "HTTP messages or requests refused by authentication or signature checks.",
)
AGENT_MESSAGE_REDELIVERED = _metric(
    "agent.message.redelivered",
    InstrumentKind.COUNTER,
    "{message}",
    "Deliveries the hub repeated because an inbox did not report a message processed.",
)
AGENT_MESSAGE_DEAD_LETTERED = _metric(
    "agent.message.dead_lettered",
    InstrumentKind.COUNTER,
    "{message}",
    "Messages the hub gave up delivering and parked in its dead-letter store, by error.type.",
)
AGENT_MESSAGE_QUEUE_DEPTH = _metric(
    "agent.message.queue.depth",
    InstrumentKind.OBSERVABLE_GAUGE,
    "{message}",
    "Messages waiting in an agent's inbox queue, by priority.",
)
AGENT_MESSAGE_CONSUMER_LAG = _metric(
    "agent.message.consumer.lag",
    InstrumentKind.OBSERVABLE_GAUGE,
    "{message}",
    "Messages a broker holds for an agent's durable consumer, not yet acknowledged (NATS "
    "JetStream: pending plus unacknowledged), by destination and consumer group.",
)
AGENT_REGISTRY_AGENTS = _metric(
    "agent.registry.agents",
    InstrumentKind.OBSERVABLE_GAUGE,
    "{agent}",
    "Registered agents, by status.",
)
AGENT_REGISTRY_REGISTRATIONS = _metric(
    "agent.registry.registrations",
    InstrumentKind.COUNTER,
    "{registration}",
    "Agent registrations accepted by the registry.",
)
AGENT_STATUS_CHANGES = _metric(
    "agent.status.changes",
    InstrumentKind.COUNTER,
    "{change}",
    "Agent status changes, by the new status.",
)
AGENT_HEARTBEAT_AGE = _metric(
    "agent.heartbeat.age",
    InstrumentKind.OBSERVABLE_GAUGE,
    UNIT_SECONDS,
    "Seconds since each registered agent's last heartbeat.",
)

# --------------------------------------------------------------------------------------
# API gateway (otel_agents.gateway)
# --------------------------------------------------------------------------------------
HTTP_REQUEST_METHOD = "http.request.method"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
HTTP_ROUTE = "http.route"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
URL_FULL = "url.full"
URL_QUERY = "url.query"
URL_PATH = "url.path"
#: The rest of the SERVER span's request attributes (stable HTTP conventions), as
#: OpenTelemetryMiddleware sets them; the gateway's lean server telemetry sets the same.
URL_SCHEME = "url.scheme"
NETWORK_PROTOCOL_VERSION = "network.protocol.version"
CLIENT_ADDRESS = "client.address"
CLIENT_PORT = "client.port"
USER_AGENT_ORIGINAL = "user_agent.original"
USER_AGENT_SYNTHETIC_TYPE = "user_agent.synthetic.type"
HTTP_REQUEST_METHOD_ORIGINAL = "http.request.method_original"
#: Stable HTTP server span names: ``{method} {http.route}``, or the method alone (``HTTP``
#: for a method outside the known set) when no route matched.
HTTP_SERVER_SPAN = "{method} {route}"
HTTP_METHOD_OTHER = "_OTHER"
HTTP_SPAN_METHOD_OTHER = "HTTP"
#: The methods the HTTP conventions know by default ("the ones listed in RFC9110, the PATCH
#: method defined in RFC5789 and the QUERY method"), as opentelemetry-util-http's
#: ``sanitize_method`` does; any other is ``_OTHER`` in ``http.request.method`` and ``HTTP``
#: in span names (bounded cardinality), its spelling in ``http.request.method_original``.
HTTP_KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)
#: The old (pre-stable) HTTP attributes, rewritten redacted when OTEL_SEMCONV_STABILITY_OPT_IN
#: asks for them (``http/dup``).
HTTP_TARGET = "http.target"
HTTP_URL = "http.url"
#: The old millisecond form of ``http.server.request.duration`` that OpenTelemetryMiddleware
#: records when OTEL_SEMCONV_STABILITY_OPT_IN asks for the old HTTP conventions.
HTTP_SERVER_DURATION = "http.server.duration"
GATEWAY_SERVICE_ID = "gateway.service.id"
GATEWAY_STATUS_CLASS = "gateway.response.status_class"
GATEWAY_RATE_LIMIT_SCOPE = "gateway.rate_limit.scope"
#: Values of ``gateway.rate_limit.scope``: the service's bucket, a client's own, or the
#: bucket shared by clients that found the per-client table full of throttled clients.
GATEWAY_RATE_LIMIT_SCOPE_SERVICE = "service"
GATEWAY_RATE_LIMIT_SCOPE_CLIENT = "client"
GATEWAY_RATE_LIMIT_SCOPE_OVERFLOW = "overflow"
GATEWAY_HEALTH_STATE = "gateway.health.state"

#: Recorded by OpenTelemetryMiddleware around the gateway and by the messaging hub's and
#: inboxes' server middleware (:mod:`otel_agents.messaging._server`), with the stable HTTP
#: conventions' bucket advice; in the contract so dashboards can use it.
HTTP_SERVER_REQUEST_DURATION = _metric(
    "http.server.request.duration",
    InstrumentKind.HISTOGRAM,
    UNIT_SECONDS,
    "Duration of HTTP server requests, by http.route, method and status code.",
    buckets=SEMCONV_DURATION_BUCKETS,
)
HTTP_CLIENT_REQUEST_DURATION = _metric(
    "http.client.request.duration",
    InstrumentKind.HISTOGRAM,
    UNIT_SECONDS,
    "Duration of the gateway's HTTP calls to upstream services.",
    buckets=SEMCONV_DURATION_BUCKETS,  # the HTTP conventions' advice, not DURATION_BUCKETS
)
GATEWAY_REQUESTS = _metric(
    "gateway.requests",
    InstrumentKind.OBSERVABLE_COUNTER,
    "{request}",
    "Requests the gateway answered, by service, route, method and status class.",
)
GATEWAY_RATE_LIMITED = _metric(
    "gateway.rate_limited",
    InstrumentKind.COUNTER,
    "{request}",
    "Requests refused with 429 by a service's or a client's token bucket.",
)
GATEWAY_UPSTREAM_ERRORS = _metric(
    "gateway.upstream.errors",
    InstrumentKind.COUNTER,
    "{error}",
    "Upstream calls that failed (refused, timed out, broken) or answered 5xx, by error.type.",
)
GATEWAY_ACTIVE_REQUESTS = _metric(
    "gateway.active_requests",
    InstrumentKind.OBSERVABLE_UP_DOWN_COUNTER,
    "{request}",
    "Requests the gateway is handling right now, by service.",
)
GATEWAY_INSTANCES_HEALTHY = _metric(
    "gateway.instances.healthy",
    InstrumentKind.OBSERVABLE_GAUGE,
    "{instance}",
    "Upstream instances of each service currently in rotation.",
)
GATEWAY_HEALTH_TRANSITIONS = _metric(
    "gateway.health.transitions",
    InstrumentKind.COUNTER,
    "{transition}",
    "Instances moved into (healthy) or out of (unhealthy) rotation, by service.",
)

#: ``error.type`` values of requests the gateway itself refused or gave up on before any
#: upstream saw them (in the request history and on the server span).
GATEWAY_ERROR_INVALID_HEADER = "invalid_header"
GATEWAY_ERROR_INVALID_PATH = "invalid_path"
GATEWAY_ERROR_REQUEST_ABORTED = "request_aborted"
GATEWAY_ERROR_REQUEST_TIMEOUT = "request_timeout"
#: ``error.type`` of a streamed answer whose client went away before its end, or took no
#: part of it for ``request_timeout`` seconds (the gateway then cut the client off).
GATEWAY_ERROR_RESPONSE_ABORTED = "response_aborted"
GATEWAY_ERROR_RESPONSE_TIMEOUT = "response_timeout"
#: ``error.type`` of an upstream call refused at connect: the upstream came through the
#: admin API or hub discovery, and its name now resolves to a link-local or cloud metadata
#: address (DNS rebinding; ``gateway._connect_check``). Nothing was sent.
GATEWAY_ERROR_FORBIDDEN_ADDRESS = "forbidden_address"

# --------------------------------------------------------------------------------------
# Alerts, health and dashboard (otel_agents._alerts, otel_agents._health)
# --------------------------------------------------------------------------------------
#: Alert attributes: both low-cardinality (four levels; sources are component or rule names).
ALERT_LEVEL = "alert.level"
ALERT_SOURCE = "alert.source"
#: Our own attributes on alert log records (never on metrics: ids and rules are per alert).
ALERT_ID = "alert.id"
ALERT_RULE = "alert.rule"
ALERT_COUNT = "alert.count"
#: The message, on an alert's span event (a log record carries it as its body).
ALERT_MESSAGE = "alert.message"
#: Prefix of an alert's context entries on its log record (scalar values, secrets redacted).
ALERT_CONTEXT_PREFIX = "alert.context."
#: Event names of an alert's log records (or span events, when logs are off).
ALERT_EVENT = "otel_agents.alert"
ALERT_RESOLVED_EVENT = "otel_agents.alert.resolved"

# Audit log records (otel_agents._audit): who changed what.
AUDIT_EVENT = "otel_agents.audit"
AUDIT_ACTION = "otel_agents.audit.action"
AUDIT_ACTOR = "otel_agents.audit.actor"
AUDIT_TARGET = "otel_agents.audit.target"
AUDIT_OUTCOME = "otel_agents.audit.outcome"
AUDIT_DETAIL_PREFIX = "otel_agents.audit.detail."
AUDIT_OUTCOME_SUCCESS = "success"
AUDIT_OUTCOME_FAILURE = "failure"
AUDIT_OUTCOME_DENIED = "denied"
AUDIT_ALERT_ACKNOWLEDGE = "alert.acknowledge"
AUDIT_ALERT_RESOLVE = "alert.resolve"
AUDIT_AGENT_REGISTER = "agent.register"
AUDIT_AGENT_UNREGISTER = "agent.unregister"
AUDIT_GATEWAY_ADMIN = "gateway.admin"
#: The actor of an admin API call that presented the admin token (never the token itself).
AUDIT_ACTOR_ADMIN = "admin"
AUDIT_ACTOR_ANONYMOUS = "anonymous"
#: ``system`` for the whole system's score, ``agent`` (with gen_ai.agent.id) for one agent.
HEALTH_SCOPE = "agent.health.scope"
HEALTH_SCOPE_SYSTEM = "system"
HEALTH_SCOPE_AGENT = "agent"

AGENT_ALERTS_ACTIVE = _metric(
    "agent.alerts.active",
    InstrumentKind.OBSERVABLE_GAUGE,
    "{alert}",
    "Alerts raised and not yet resolved, by alert.level and alert.source.",
)
AGENT_ALERTS_RAISED = _metric(
    "agent.alerts.raised",
    InstrumentKind.COUNTER,
    "{alert}",
    "Alerts raised (repeats of an active alert are not counted), by level and source.",
)
AGENT_HEALTH_SCORE = _metric(
    "agent.health.score",
    InstrumentKind.OBSERVABLE_GAUGE,
    "{score}",
    "Health score from 0 (down) to 100 (healthy), for the system and for each agent.",
)

# --------------------------------------------------------------------------------------
# GenAI agents, tools and model calls (otel_agents.genai), by the GenAI semantic conventions
# (open-telemetry/semantic-conventions-genai); tests/genai/test_conventions.py pins each
# gen_ai.* name against opentelemetry-semantic-conventions and opentelemetry-util-genai.
# --------------------------------------------------------------------------------------
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
#: The provider's older name, which instrumentations on the pre-1.37 conventions still set
#: (openai-v2 by default); read, never written.
GEN_AI_SYSTEM = "gen_ai.system"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
#: Message content, only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT opts in.
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
#: Well-known values of ``gen_ai.operation.name`` and ``gen_ai.token.type`` that we emit.
GEN_AI_OPERATION_CHAT = "chat"
GEN_AI_OPERATION_INVOKE_AGENT = "invoke_agent"
#: Another framework's (we make none): its agent's identity is its own, not ours.
GEN_AI_OPERATION_CREATE_AGENT = "create_agent"
GEN_AI_OPERATION_EXECUTE_TOOL = "execute_tool"
GEN_AI_OPERATION_TEXT_COMPLETION = "text_completion"
GEN_AI_OPERATION_GENERATE_CONTENT = "generate_content"
GEN_AI_OPERATION_EMBEDDINGS = "embeddings"
#: ``gen_ai.tool.type`` of a tool the agent runs itself (the conventions' ``function``).
GEN_AI_TOOL_TYPE_FUNCTION = "function"
#: Our ``gen_ai.provider.name`` for an instrumented call that names no provider.
GEN_AI_PROVIDER_UNKNOWN = "unknown"
GEN_AI_TOKEN_TYPE_INPUT = "input"
GEN_AI_TOKEN_TYPE_OUTPUT = "output"
#: Span names: ``invoke_agent {gen_ai.agent.name}``, ``execute_tool {gen_ai.tool.name}``,
#: ``{gen_ai.operation.name} {gen_ai.request.model}``.
GEN_AI_INVOKE_AGENT_SPAN = "invoke_agent {agent_name}"
GEN_AI_EXECUTE_TOOL_SPAN = "execute_tool {tool_name}"
GEN_AI_MODEL_SPAN = "{operation} {model}"
#: Our own: the first finish reason of a model call (``none`` when the model gave none).
AGENT_MODEL_FINISH_REASON = "agent.model.finish_reason"
AGENT_MODEL_FINISH_REASON_NONE = "none"
#: Its label for a reason outside :data:`AGENT_MODEL_FINISH_REASONS` (a server's free text
#: must not become a label value per response).
AGENT_MODEL_FINISH_REASON_OTHER = "_OTHER"
#: The finish reasons kept as labels: the GenAI conventions' well-known values (``stop``,
#: ``length``, ``content_filter``, ``tool_call``, ``error``), util-genai's and OpenAI's
#: spelling ``tool_calls``, util-genai's ``compaction``, and our ``none``.
AGENT_MODEL_FINISH_REASONS = frozenset(
    {
        "stop",
        "length",
        "content_filter",
        "tool_call",
        "tool_calls",
        "error",
        "compaction",
        AGENT_MODEL_FINISH_REASON_NONE,
    }
)
#: (``ERROR_TYPE_OTHER``, defined with ``ERROR_TYPE`` above, labels a model or tool error type
#: that is not a short identifier, or one past the distinct values one process labels with.)
#: Our own span attributes on ``invoke_agent``: this process's totals for its conversation.
AGENT_CONVERSATION_COST_ATTRIBUTE = "agent.conversation.cost"
AGENT_CONVERSATION_TOKENS_ATTRIBUTE = "agent.conversation.tokens"

#: The conventions' advice for ``gen_ai.client.token.usage``: powers of 4, 1 to 4^13 tokens.
GEN_AI_TOKEN_BUCKETS: tuple[float, ...] = tuple(float(4**n) for n in range(14))
#: The conventions' advice for ``gen_ai.client.operation.duration``: 10 ms doubling to 81.92 s.
GEN_AI_DURATION_BUCKETS: tuple[float, ...] = tuple(0.01 * 2**n for n in range(14))

GEN_AI_CLIENT_TOKEN_USAGE = _metric(
    "gen_ai.client.token.usage",
    InstrumentKind.HISTOGRAM,
    "{token}",
    "Input and output tokens used by GenAI model calls, by gen_ai.token.type.",
    buckets=GEN_AI_TOKEN_BUCKETS,
)
GEN_AI_CLIENT_OPERATION_DURATION = _metric(
    "gen_ai.client.operation.duration",
    InstrumentKind.HISTOGRAM,
    UNIT_SECONDS,
    "Duration of GenAI model calls; failed ones carry error.type.",
    buckets=GEN_AI_DURATION_BUCKETS,
)
AGENT_MODEL_COST = _metric(
    "agent.model.cost",
    InstrumentKind.COUNTER,
    UNIT_USD,
    "Cost of model calls in US dollars by the price table, per agent and model.",
)
AGENT_MODEL_UNPRICED = _metric(
    "agent.model.unpriced",
    InstrumentKind.COUNTER,
    "{call}",
    "Model calls whose model has no price in the price table (they cost nothing).",
)
AGENT_MODEL_CALLS = _metric(
    "agent.model.calls",
    InstrumentKind.COUNTER,
    "{call}",
    "Model calls per agent and model, by first finish reason; failed ones carry error.type.",
)
AGENT_TOOL_CALLS = _metric(
    "agent.tool.calls",
    InstrumentKind.COUNTER,
    "{call}",
    "Tool executions per agent and tool; failed ones carry error.type.",
)
AGENT_CONVERSATION_COST = _metric(
    "agent.conversation.cost",
    InstrumentKind.OBSERVABLE_GAUGE,
    UNIT_USD,
    "This process's model cost so far for each of its top conversations, per agent.",
)
AGENT_CONVERSATION_TOKENS = _metric(
    "agent.conversation.tokens",
    InstrumentKind.OBSERVABLE_GAUGE,
    "{token}",
    "This process's tokens so far for each of its top conversations, per agent.",
)

# --------------------------------------------------------------------------------------
# The OpenTelemetry SDK's own metrics (configure() turns them on; the SDK emits them)
# --------------------------------------------------------------------------------------
#: Spans and log records a batch processor handed on; with ``error.type`` ``queue_full`` or
#: ``already_shutdown``, those it dropped.
OTEL_SDK_PROCESSOR_SPAN_PROCESSED = "otel.sdk.processor.span.processed"
OTEL_SDK_PROCESSOR_LOG_PROCESSED = "otel.sdk.processor.log.processed"
#: Items an OTLP exporter sent; with ``error.type`` (the exception class), those that failed.
OTEL_SDK_EXPORTER_SPAN_EXPORTED = "otel.sdk.exporter.span.exported"
OTEL_SDK_EXPORTER_METRIC_DATA_POINT_EXPORTED = "otel.sdk.exporter.metric_data_point.exported"
OTEL_SDK_EXPORTER_LOG_EXPORTED = "otel.sdk.exporter.log.exported"
#: ``error.type`` of a span or log record a full batch queue dropped.
OTEL_SDK_ERROR_QUEUE_FULL = "queue_full"

# --------------------------------------------------------------------------------------
# Span metrics: made by the Collector's spanmetrics connector from spans (any service's),
# served to Prometheus by the bundled stack (collector/otel-collector.yaml). otel-agents
# does not emit them, so they are outside ALL_METRICS (the naming contract of our own
# instruments); their Prometheus names come from the same derivation.
# --------------------------------------------------------------------------------------
#: The connector's ``namespace`` (Jaeger's Monitor tab reads this one by default).
SPAN_METRICS_NAMESPACE = "traces.span.metrics"
#: Resource attribute naming where a service runs (the dashboards' environment variable reads
#: it from ``target_info``).
DEPLOYMENT_ENVIRONMENT_NAME = "deployment.environment.name"
#: The connector's dimensions on every span metric.
SERVICE_NAME = "service.name"
SPAN_NAME = "span.name"
SPAN_KIND = "span.kind"
STATUS_CODE = "status.code"
#: The connector's value of ``status.code`` for spans that ended in error.
STATUS_CODE_ERROR = "STATUS_CODE_ERROR"

SPAN_METRICS_CALLS = MetricSpec(
    f"{SPAN_METRICS_NAMESPACE}.calls",
    InstrumentKind.COUNTER,
    "",
    "Spans ended, by service.name, span.name, span.kind and status.code.",
)
SPAN_METRICS_DURATION = MetricSpec(
    f"{SPAN_METRICS_NAMESPACE}.duration",
    InstrumentKind.HISTOGRAM,
    "ms",
    "Span duration in milliseconds (the connector's histogram unit), same dimensions.",
)
