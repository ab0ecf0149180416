"""What a tracked value measures: :class:`MetricType` and the instrument behind each type.

Each type maps to one instrument of the telemetry contract (:mod:`otel_agents.semconv`) and
to the range its values must lie in, so the tracker can check a value before recording it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum

from otel_agents import semconv
from otel_agents._errors import invalid_type, invalid_value
from otel_agents._numbers import is_real

__all__ = [
    "KINDS",
    "RECORD_METHODS",
    "MetricKind",
    "MetricType",
    "coerce_metric_type",
    "number",
    "out_of_range",
]


class MetricType(StrEnum):
    """What a tracked value measures. Pass a member or its value (``"response_time"``)."""

    RESPONSE_TIME = "response_time"
    TASK_DURATION = "task_duration"
    NETWORK_LATENCY = "network_latency"
    CPU_USAGE = "cpu_usage"
    MEMORY_USAGE = "memory_usage"
    THROUGHPUT = "throughput"
    ERROR_RATE = "error_rate"
    QUEUE_SIZE = "queue_size"
    REQUEST_COUNT = "request_count"
    ERROR_COUNT = "error_count"

    @property
    def spec(self) -> semconv.MetricSpec:
        """The instrument this type is recorded as."""
        return KINDS[self].spec

    @property
    def unit(self) -> str:
        return KINDS[self].spec.unit


@dataclass(frozen=True)
class MetricKind:
    spec: semconv.MetricSpec
    maximum: float  # values must lie in [0, maximum]; NaN and infinity never do
    meaning: str


_ANY = sys.float_info.max
_PERCENT = "a percentage from 0 to 100"


KINDS: dict[MetricType, MetricKind] = {
    MetricType.RESPONSE_TIME: MetricKind(semconv.AGENT_RESPONSE_DURATION, _ANY, "seconds"),
    MetricType.TASK_DURATION: MetricKind(semconv.AGENT_TASK_DURATION, _ANY, "seconds"),
    MetricType.NETWORK_LATENCY: MetricKind(semconv.AGENT_NETWORK_LATENCY, _ANY, "seconds"),
    MetricType.CPU_USAGE: MetricKind(semconv.AGENT_CPU_USAGE, 100.0, _PERCENT),
    MetricType.MEMORY_USAGE: MetricKind(semconv.AGENT_MEMORY_USAGE, _ANY, "bytes"),
    MetricType.THROUGHPUT: MetricKind(semconv.AGENT_THROUGHPUT, _ANY, "operations per second"),
    MetricType.ERROR_RATE: MetricKind(semconv.AGENT_ERROR_RATE, 100.0, _PERCENT),
    MetricType.QUEUE_SIZE: MetricKind(semconv.AGENT_QUEUE_SIZE, _ANY, "a number of items"),
    MetricType.REQUEST_COUNT: MetricKind(semconv.AGENT_REQUESTS, _ANY, "a count to add"),
    MetricType.ERROR_COUNT: MetricKind(semconv.AGENT_ERRORS, _ANY, "a count to add"),
}
RECORD_METHODS = {
    semconv.InstrumentKind.COUNTER: "add",
    semconv.InstrumentKind.HISTOGRAM: "record",
    semconv.InstrumentKind.GAUGE: "set",
}
_BY_NAME: dict[str, MetricType] = {member.value: member for member in MetricType}
_BY_NAME.update({member.name: member for member in MetricType})
_CHOICES = sorted(member.value for member in MetricType)


def coerce_metric_type(metric_type: object) -> MetricType:
    if isinstance(metric_type, MetricType):
        return metric_type
    if isinstance(metric_type, str):
        found = _BY_NAME.get(metric_type) or _BY_NAME.get(metric_type.lower())
        if found is not None:
            return found
        raise invalid_value("metric_type", metric_type, "a MetricType", _CHOICES)
    raise invalid_type("metric_type", metric_type, "a MetricType or its name", _CHOICES)


def number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_type("value", value, "a real number (int or float)")
    return float(value)


def out_of_range(kind: MetricType, value: float) -> Exception:
    meaning = KINDS[kind].meaning
    if not is_real(value):  # NaN, infinity, or an int too large for a float
        return invalid_value("value", value, f"a finite number ({meaning}) for {kind.value}")
    return invalid_value("value", value, f"{meaning} for {kind.value}, not negative or above range")
