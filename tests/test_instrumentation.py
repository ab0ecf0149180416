from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from otel_agents import semconv
from otel_agents.instrumentation import OtelAgentsInstrumentor
from otel_agents.testing import TelemetryCapture

SYSTEM_NAMES = {
    spec.name
    for spec in semconv.ALL_METRICS.values()
    if spec.name.startswith(("system.", "process."))
}


@pytest.fixture
def instrumentor() -> Iterator[OtelAgentsInstrumentor]:
    instrumentor = OtelAgentsInstrumentor()
    yield instrumentor
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def test_instrumentation_has_no_dependencies_to_check(
    instrumentor: OtelAgentsInstrumentor,
) -> None:
    assert list(instrumentor.instrumentation_dependencies()) == []


def test_instrument_enables_system_metrics_on_the_given_meter_provider(
    telemetry: TelemetryCapture, instrumentor: OtelAgentsInstrumentor
) -> None:
    instrumentor.instrument(meter_provider=telemetry.meter_provider)
    assert set(telemetry.metrics()) == SYSTEM_NAMES
    assert instrumentor.is_instrumented_by_opentelemetry


def test_uninstrument_stops_the_system_metrics(
    telemetry: TelemetryCapture, instrumentor: OtelAgentsInstrumentor
) -> None:
    instrumentor.instrument(meter_provider=telemetry.meter_provider)
    instrumentor.uninstrument()
    assert telemetry.metrics() == {}
    assert not instrumentor.is_instrumented_by_opentelemetry


def test_instrument_and_uninstrument_are_safe_to_call_twice(
    telemetry: TelemetryCapture, instrumentor: OtelAgentsInstrumentor
) -> None:
    instrumentor.instrument(meter_provider=telemetry.meter_provider)
    instrumentor.instrument(meter_provider=telemetry.meter_provider)
    assert len(telemetry.points(semconv.PROCESS_THREAD_COUNT.name)) == 1
    instrumentor.uninstrument()
    instrumentor.uninstrument()
    assert telemetry.metrics() == {}


def test_instrument_again_after_uninstrument_reports_again(
    telemetry: TelemetryCapture, instrumentor: OtelAgentsInstrumentor
) -> None:
    instrumentor.instrument(meter_provider=telemetry.meter_provider)
    instrumentor.uninstrument()
    instrumentor.instrument(meter_provider=telemetry.meter_provider)
    assert set(telemetry.metrics()) == SYSTEM_NAMES


def test_the_instrumentor_is_registered_as_an_opentelemetry_instrumentor_entry_point() -> None:
    (entry_point,) = entry_points(group="opentelemetry_instrumentor", name="otel_agents")
    assert entry_point.load() is OtelAgentsInstrumentor


@pytest.mark.integration
def test_opentelemetry_instrument_turns_on_system_metrics_without_code_changes(
    tmp_path: Path,
) -> None:
    # Nothing in the installed packages configures the SDK from OTEL_* variables under
    # opentelemetry-instrument (no distro or configurator entry point), so the script sets up
    # providers with configure(system_metrics=False): every system metric printed below
    # comes from the instrumentor, which ran before the script.
    script = tmp_path / "agent.py"
    script.write_text(
        textwrap.dedent(
            """
            import time
            import otel_agents

            otel_agents.configure(system_metrics=False)
            time.sleep(1)
            otel_agents.shutdown()
            """
        )
    )
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "console",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
        "OTEL_AGENTS_SYSTEM_METRICS": "false",
    }
    process = subprocess.Popen(
        [str(launcher), sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert semconv.SYSTEM_CPU_UTILIZATION.name in stdout
    assert semconv.PROCESS_MEMORY_USAGE.name in stdout
