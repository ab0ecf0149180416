"""``configure()`` and ``shutdown()`` over time: idempotent, thread-safe, polite to the app."""

from __future__ import annotations

import pytest
from _support import Probe, Probes, Scenarios
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

SCENARIOS = Scenarios()
scenario = SCENARIOS.add


@pytest.fixture(scope="module")
def probes() -> Probes:
    return SCENARIOS.run()


# --------------------------------------------------------------------------------------
# Idempotency, threads, shutdown, an application's own providers
# --------------------------------------------------------------------------------------
scenario(
    "repeated",
    kwargs="{'service_name': 'first'}",
    after="""
records.clear()
same = otel_agents.configure(service_name="first")
bare = otel_agents.configure()
result["extra"]["same_silent"] = same is telemetry and bare is telemetry and records == []
other = otel_agents.configure(service_name="second")
result["extra"]["other_is_first"] = other is telemetry
result["extra"]["other_logs"] = [r["message"] for r in records]
""",
)


@pytest.fixture(scope="module")
def repeated(probes: Probes) -> Probe:
    return probes["repeated"]


def test_second_configure_returns_the_same_telemetry_silently(repeated: Probe) -> None:
    assert repeated.extra["same_silent"] is True


def test_configure_with_different_arguments_warns_and_keeps_the_first(repeated: Probe) -> None:
    assert repeated.extra["other_is_first"] is True
    (message,) = repeated.extra["other_logs"]
    assert "already called" in message
    assert repeated.telemetry["resource"][SERVICE_NAME] == "first"


scenario(
    "concurrent_configure_calls_build_one_telemetry",
    {"OTEL_METRICS_EXPORTER": "console"},
    before="""
import threading
from opentelemetry.sdk.metrics import MeterProvider
built = []
original_init = MeterProvider.__init__
def counting_init(self, *args, **kwargs):
    built.append(self)
    original_init(self, *args, **kwargs)
MeterProvider.__init__ = counting_init
barrier = threading.Barrier(16)
made = []
def call():
    barrier.wait(timeout=30)
    made.append(otel_agents.configure())
threads = [threading.Thread(target=call) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(timeout=30)
""",
    after="""
MeterProvider.__init__ = original_init
result["extra"]["calls"] = len(made)
result["extra"]["distinct"] = len({id(t) for t in made + [telemetry]})
result["extra"]["meter_providers"] = len(built)
""",
)


def test_concurrent_configure_calls_build_one_telemetry(probes: Probes) -> None:
    probe = probes["concurrent_configure_calls_build_one_telemetry"]
    assert probe.extra == {"calls": 16, "distinct": 1, "meter_providers": 1}


scenario(
    "shutdown_twice_is_safe_and_quiet",
    {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "console"},
    after="""
records.clear()
with trace.get_tracer("probe").start_as_current_span("before-shutdown"):
    pass
otel_agents.shutdown()
otel_agents.shutdown()
telemetry.shutdown()
result["extra"]["after"] = otel_agents.get_telemetry()
result["extra"]["logs"] = [r["message"] for r in records]
""",
    exit="normal",
)


@pytest.mark.integration  # exit="normal": about the process's exit
def test_shutdown_twice_is_safe_and_quiet(probes: Probes) -> None:
    probe = probes["shutdown_twice_is_safe_and_quiet"]
    assert probe.extra == {"after": None, "logs": []}
    assert '"name": "before-shutdown"' in probe.stdout  # flushed by the first shutdown
    assert probe.stderr == ""


scenario(
    "configure_after_shutdown_warns_that_providers_cannot_change",
    after="""
otel_agents.shutdown()
records.clear()
again = otel_agents.configure()
result["extra"]["logs"] = [r["message"] for r in records if r["level"] == "WARNING"]
result["extra"]["same_global"] = trace.get_tracer_provider() is telemetry.tracer_provider
""",
)


def test_configure_after_shutdown_warns_that_providers_cannot_change(probes: Probes) -> None:
    probe = probes["configure_after_shutdown_warns_that_providers_cannot_change"]
    (warning,) = probe.extra["logs"]
    assert "after shutdown()" in warning
    assert probe.extra["same_global"] is True


scenario(
    "telemetry_repr_never_shows_otlp_headers",
    kwargs="{'otlp_headers': {'api-key': 's3cret'}}",
    after="result['extra']['repr'] = repr(telemetry)",
)


def test_telemetry_repr_never_shows_otlp_headers(probes: Probes) -> None:
    probe = probes["telemetry_repr_never_shows_otlp_headers"]
    assert "s3cret" not in probe.extra["repr"]


scenario(
    "shutdown_without_configure_is_a_no_op",
    kwargs="{'disabled': True}",
    after="otel_agents.shutdown()\notel_agents.shutdown()\n",
    exit="normal",
)


@pytest.mark.integration  # exit="normal": about the process's exit
def test_shutdown_without_configure_is_a_no_op(probes: Probes) -> None:
    probe = probes["shutdown_without_configure_is_a_no_op"]
    assert probe.telemetry == {"configured": False}
    assert probe.stderr == ""


scenario(
    "application_providers_set_first_are_kept",
    {"OTEL_METRICS_EXPORTER": "console"},
    before="""
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
own_tracer, own_meter = TracerProvider(), MeterProvider()
trace.set_tracer_provider(own_tracer)
metrics.set_meter_provider(own_meter)
""",
    after="""
result["extra"]["tracer_kept"] = trace.get_tracer_provider() is own_tracer
result["extra"]["meter_kept"] = metrics.get_meter_provider() is own_meter
""",
)


def test_application_providers_set_first_are_kept(probes: Probes) -> None:
    probe = probes["application_providers_set_first_are_kept"]
    assert probe.extra == {"tracer_kept": True, "meter_kept": True}
    assert probe.telemetry["built"] == {
        "tracer_provider": False,
        "meter_provider": False,
        "logger_provider": True,
    }
    assert probe.warnings() == []


# --------------------------------------------------------------------------------------
# Extra Views
# --------------------------------------------------------------------------------------
scenario(
    "views",
    before="""
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import DropAggregation, View
reader = InMemoryMetricReader()
""",
    kwargs="{'views': [View(instrument_name='agent.requests', aggregation=DropAggregation())],"
    " 'metric_readers': [reader]}",
    after="""
from otel_agents import PerformanceTracker
tracker = PerformanceTracker({"snapshot_interval": 0})
tracker.record_metric("request_count", 1, agent_id="a")
tracker.record_metric("error_count", 1, agent_id="a")
tracker.record_metric("response_time", 0.003, agent_id="a")
data = reader.get_metrics_data()
found = {
    m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
}
result["extra"]["names"] = sorted(found)
bounds = found["agent.response.duration"].data.data_points[0].explicit_bounds
result["extra"]["first_bound"] = bounds[0]
""",
)


def test_extra_views_apply_after_the_bucket_views(probes: Probes) -> None:
    probe = probes["views"]
    assert probe.error is None
    assert "agent.requests" not in probe.extra["names"]
    assert {"agent.errors", "agent.response.duration"} <= set(probe.extra["names"])
    assert probe.extra["first_bound"] == 0.001


scenario("bad views", kwargs="{'views': ['not a view']}")


def test_views_must_be_view_objects(probes: Probes) -> None:
    error = probes["bad views"].error
    assert error is not None
    assert error["type"] == "ConfigurationError"
    assert "views=" in error["message"]
