"""Span hygiene set up by ``configure()``: attribute length limits and the SDK's own metrics.

Each scenario is a fresh interpreter (see ``_support``): the providers are process-wide.
"""

from __future__ import annotations

import pytest
from _support import Probes, Scenarios

from otel_agents import semconv

SCENARIOS = Scenarios()
scenario = SCENARIOS.add

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def probes() -> Probes:
    return SCENARIOS.run()


# --------------------------------------------------------------------------------------
# Attribute value length limits (the specification's default is: none)
# --------------------------------------------------------------------------------------
RECORD_LONG_VALUES = """
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from otel_agents import semconv
logs = InMemoryLogRecordExporter()
telemetry.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
with trace.get_tracer("probe").start_as_current_span("long") as span:
    span.set_attribute("payload", "x" * (1024 * 1024))
    span.set_attribute(semconv.GEN_AI_AGENT_ID, "a" * 1_000_000)
    span.add_event("event", {"payload": "y" * (1024 * 1024)})
get_logger_provider().get_logger("probe").emit(
    LogRecord(body="body", attributes={"payload": "z" * (1024 * 1024)})
)
(finished,) = spans.get_finished_spans()
result["extra"]["span"] = len(finished.attributes["payload"])
result["extra"]["agent_id"] = len(finished.attributes[semconv.GEN_AI_AGENT_ID])
result["extra"]["event"] = len(finished.events[0].attributes["payload"])
(record,) = logs.get_finished_logs()
result["extra"]["log"] = len(record.log_record.attributes["payload"])
"""
IN_MEMORY_SPANS = """
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
spans = InMemorySpanExporter()
"""
KWARGS = "{'span_processors': [SimpleSpanProcessor(spans)]}"

for name, env in {
    "default_limits": {},
    "general_limit": {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "100"},
    "span_limit": {
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "100",
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "50",
    },
    "bad_limit": {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "lots"},
}.items():
    scenario(name, env, before=IN_MEMORY_SPANS, kwargs=KWARGS, after=RECORD_LONG_VALUES)


def test_attribute_values_are_cut_at_8192_characters_by_default(probes: Probes) -> None:
    """A 1 MiB attribute and a 1,000,000-character agent id are not exported whole."""
    probe = probes["default_limits"]
    assert probe.extra == {"span": 8192, "agent_id": 8192, "event": 8192, "log": 8192}


def test_otel_attribute_value_length_limit_applies_everywhere(probes: Probes) -> None:
    assert probes["general_limit"].extra == {"span": 100, "agent_id": 100, "event": 100, "log": 100}


def test_the_span_attribute_limit_wins_for_span_attributes_only(probes: Probes) -> None:
    assert probes["span_limit"].extra == {"span": 50, "agent_id": 50, "event": 100, "log": 100}


def test_a_bad_length_limit_warns_and_keeps_the_default(probes: Probes) -> None:
    probe = probes["bad_limit"]
    assert probe.extra["span"] == 8192
    (warning,) = probe.warnings_about("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")
    assert "'lots'" in warning


# --------------------------------------------------------------------------------------
# The SDK's otel.sdk.* metrics: dropped spans and failed exports are counted
# --------------------------------------------------------------------------------------
READER = """
import os
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
reader = InMemoryMetricReader()
"""
DROP_AND_FAIL = """
result["extra"]["env_left"] = os.environ.get("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED")
tracer = trace.get_tracer("probe")
for number in range(20):  # the queue holds 4: most are dropped
    with tracer.start_as_current_span(f"span-{number}"):
        pass
telemetry.tracer_provider.force_flush()  # the 4 queued ones fail: the port is closed
sums = {}
data = reader.get_metrics_data()
for rm in data.resource_metrics if data is not None else ():
    for sm in rm.scope_metrics:
        for metric in sm.metrics:
            for point in metric.data.data_points:
                error = point.attributes.get("error.type")
                key = f"{metric.name}|{'ok' if error is None else 'error'}|{error or ''}"
                sums[key] = sums.get(key, 0) + getattr(point, "value", getattr(point, "count", 0))
result["extra"]["sums"] = {k: v for k, v in sums.items() if k.startswith("otel.sdk.")}
"""
DROP_ENV = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9/v1/traces",  # discard: closed
    "OTEL_EXPORTER_OTLP_TIMEOUT": "500",
    "OTEL_BSP_MAX_QUEUE_SIZE": "4",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4",
    "OTEL_BSP_SCHEDULE_DELAY": "600000",
}
scenario(
    "sdk_metrics",
    DROP_ENV,
    before=READER,
    kwargs="{'metric_readers': [reader]}",
    after=DROP_AND_FAIL,
    # The exports really fail on a closed port. In a process of its own: in this one, other
    # threads change when the batch worker wakes, and so how many of the 20 spans it drops.
    process=True,
)
scenario(
    "sdk_metrics_off",
    {**DROP_ENV, "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED": "false"},
    before=READER,
    kwargs="{'metric_readers': [reader]}",
    after=DROP_AND_FAIL,
    # The exports really fail on a closed port. In a process of its own: in this one, other
    # threads change when the batch worker wakes, and so how many of the 20 spans it drops.
    process=True,
)


@pytest.mark.integration
def test_dropped_spans_and_failed_exports_are_counted_as_metrics(probes: Probes) -> None:
    sums = probes["sdk_metrics"].extra["sums"]
    dropped = (
        f"{semconv.OTEL_SDK_PROCESSOR_SPAN_PROCESSED}|error|{semconv.OTEL_SDK_ERROR_QUEUE_FULL}"
    )
    failed = [
        value
        for key, value in sums.items()
        if key.startswith(f"{semconv.OTEL_SDK_EXPORTER_SPAN_EXPORTED}|error|")
    ]
    # The spans are either dropped (the queue holds 4) or handed to the exporter, whose
    # export fails on the closed port. How many go each way depends on when the batch worker
    # first gets to run (16 and 4 on an idle machine; 13 and 7, and once 13 and 8, on a busy
    # one: 21 spans counted there, the 21st not identified).
    assert len(failed) == 1, sums
    assert sums[dropped] + failed[0] >= 20, sums
    assert sums[dropped] >= 1, sums
    assert failed[0] >= 4, sums


@pytest.mark.integration
def test_configure_leaves_the_environment_as_it_found_it(probes: Probes) -> None:
    assert probes["sdk_metrics"].extra["env_left"] is None


@pytest.mark.integration
def test_the_sdk_metrics_can_be_turned_off(probes: Probes) -> None:
    assert probes["sdk_metrics_off"].extra["sums"] == {}
