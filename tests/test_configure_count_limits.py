"""Count limits (``OTEL_*_COUNT_LIMIT``): each variable is read on its own.

A malformed one costs one warning naming it and its own default (the value the SDK uses while
that variable is unset); the well-formed ones still apply. Before, one malformed variable made
``SpanLimits`` raise and every limit fell back to 128, with two warnings.
"""

from __future__ import annotations

import pytest
from _support import Probe, Probes, Scenarios

from otel_agents._sdk_env import LOG_COUNT_LIMITS, SPAN_COUNT_LIMITS

SCENARIOS = Scenarios()
scenario = SCENARIOS.add

BEFORE = """
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
spans = InMemorySpanExporter()
"""
KWARGS = "{'span_processors': [SimpleSpanProcessor(spans)]}"
#: A span and a log record with more of everything than any limit here keeps.
COUNT = """
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.trace import Link, SpanContext
logs = InMemoryLogRecordExporter()
telemetry.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
many = {f"k{i}": i for i in range(150)}
links = [Link(SpanContext(1, i + 1, False), many) for i in range(150)]
with trace.get_tracer("probe").start_as_current_span("counted", links=links) as span:
    span.set_attributes(many)
    for i in range(150):
        span.add_event(f"e{i}", many)
get_logger_provider().get_logger("probe").emit(LogRecord(body="b", attributes=many))
(finished,) = spans.get_finished_spans()
(record,) = logs.get_finished_logs()
result["extra"] = {
    "attributes": len(finished.attributes),
    "events": len(finished.events),
    "event_attributes": len(finished.events[0].attributes),
    "links": len(finished.links),
    "link_attributes": len(finished.links[0].attributes),
    "log_attributes": len(record.log_record.attributes),
}
"""
ALL_128 = dict.fromkeys(
    ("attributes", "events", "event_attributes", "links", "link_attributes", "log_attributes"),
    128,
)

for name, env, process in [
    ("valid_event_limit", {"OTEL_SPAN_EVENT_COUNT_LIMIT": "2"}, False),
    (
        "bad_attribute_limit",
        {"OTEL_SPAN_EVENT_COUNT_LIMIT": "2", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "x"},
        False,
    ),
    (
        "bad_ones_default_to_the_global_limit",
        {
            "OTEL_ATTRIBUTE_COUNT_LIMIT": "5",
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "x",
            "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT": "lots",
            "OTEL_SPAN_LINK_COUNT_LIMIT": "3",
            "OTEL_SPAN_EVENT_COUNT_LIMIT": "-1",
        },
        False,
    ),
    (
        "bad_global_limit",
        {"OTEL_ATTRIBUTE_COUNT_LIMIT": "x", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "7"},
        False,
    ),
    (
        # A fresh interpreter: the SDK reads OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT when imported
        # (otel_agents warns then), and the tracer's and the logger's limits read the global.
        "fresh_process",
        {
            "OTEL_SPAN_EVENT_COUNT_LIMIT": "2",
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "x",
            "OTEL_ATTRIBUTE_COUNT_LIMIT": "y",
        },
        True,
    ),
]:
    scenario(name, env, before=BEFORE, kwargs=KWARGS, after=COUNT, process=process)


@pytest.fixture(scope="module")
def probes() -> Probes:
    return SCENARIOS.run()


def _limit_warnings(probe: Probe) -> list[str]:
    """The warnings about a limit variable (the SDK also warns at every dropped attribute)."""
    return [w for w in probe.warnings() if "_LIMIT=" in w]


def _one_warning(probes: Probes, name: str, variable: str, value: str) -> None:
    (warning,) = [w for w in _limit_warnings(probes[name]) if w.startswith(variable + "=")]
    assert warning.startswith(f"{variable}={value!r} is not valid: expected an integer")
    assert warning.endswith("OpenTelemetry's default is used")


def test_a_valid_event_limit_applies(probes: Probes) -> None:
    assert probes["valid_event_limit"].extra == {**ALL_128, "events": 2}
    assert _limit_warnings(probes["valid_event_limit"]) == []


def test_a_malformed_limit_keeps_the_valid_ones_and_warns_once_naming_it(probes: Probes) -> None:
    probe = probes["bad_attribute_limit"]
    assert probe.extra == {**ALL_128, "events": 2}
    assert len(_limit_warnings(probe)) == 1
    _one_warning(probes, "bad_attribute_limit", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "x")


def test_a_malformed_attribute_limit_takes_the_global_one_as_the_sdk_does(
    probes: Probes,
) -> None:
    probe = probes["bad_ones_default_to_the_global_limit"]
    assert probe.extra == {
        "attributes": 5,
        "events": 128,
        "event_attributes": 5,
        "links": 3,
        "link_attributes": 5,
        "log_attributes": 5,
    }
    assert len(_limit_warnings(probe)) == 3
    name = "bad_ones_default_to_the_global_limit"
    _one_warning(probes, name, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "x")
    _one_warning(probes, name, "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "lots")
    _one_warning(probes, name, "OTEL_SPAN_EVENT_COUNT_LIMIT", "-1")


def test_a_malformed_global_limit_is_warned_about_once_for_spans_and_logs(
    probes: Probes,
) -> None:
    probe = probes["bad_global_limit"]
    assert probe.extra == {**ALL_128, "event_attributes": 7}
    assert len(_limit_warnings(probe)) == 1
    _one_warning(probes, "bad_global_limit", "OTEL_ATTRIBUTE_COUNT_LIMIT", "x")


@pytest.mark.integration
def test_in_a_fresh_process_each_malformed_limit_is_one_warning(probes: Probes) -> None:
    probe = probes["fresh_process"]
    assert probe.extra == {**ALL_128, "events": 2}
    # Importing otel_agents warned about the first (on stderr: before the probe's handler).
    assert probe.stderr.count("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT='x' is not valid") == 1
    assert len(_limit_warnings(probe)) == 1, _limit_warnings(probe)
    _one_warning(probes, "fresh_process", "OTEL_ATTRIBUTE_COUNT_LIMIT", "y")


def test_every_count_limit_variable_of_the_sdk_is_read_on_its_own() -> None:
    """A variable missing from the tables would make the SDK raise, and every limit fall
    back to 128 again."""
    from opentelemetry.sdk import environment_variables

    counts = {
        value
        for name, value in vars(environment_variables).items()
        if name.endswith("_COUNT_LIMIT") and isinstance(value, str)
    }
    assert counts == set(SPAN_COUNT_LIMITS) | set(LOG_COUNT_LIMITS)
