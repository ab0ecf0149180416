from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from otel_agents import _config_build, semconv
from otel_agents._instrumentation import OtelAgentsConfigurator, OtelAgentsInstrumentor
from otel_agents._system_metrics import system_metrics_for
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


def test_the_configurator_is_registered_as_an_opentelemetry_configurator_entry_point() -> None:
    (entry_point,) = entry_points(group="opentelemetry_configurator", name="otel_agents")
    assert entry_point.load() is OtelAgentsConfigurator


def test_configure_and_instrument_on_one_provider_share_one_set_of_instruments(
    telemetry: TelemetryCapture,
    instrumentor: OtelAgentsInstrumentor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="opentelemetry"):
        configured = _config_build._system_metrics(telemetry.meter_provider)
        instrumentor.instrument(meter_provider=telemetry.meter_provider)
        data = telemetry.metrics()
    assert system_metrics_for(telemetry.meter_provider) is configured
    assert set(data) == SYSTEM_NAMES
    assert len(telemetry.points(semconv.PROCESS_THREAD_COUNT.name)) == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_uninstrument_leaves_system_metrics_that_configure_enabled(
    telemetry: TelemetryCapture, instrumentor: OtelAgentsInstrumentor
) -> None:
    _config_build._system_metrics(telemetry.meter_provider)
    instrumentor.instrument(meter_provider=telemetry.meter_provider)
    instrumentor.uninstrument()
    assert set(telemetry.metrics()) == SYSTEM_NAMES


def test_system_metrics_for_gives_one_instance_per_meter_provider(
    telemetry: TelemetryCapture,
) -> None:
    other = TelemetryCapture()
    try:
        first = system_metrics_for(telemetry.meter_provider)
        assert system_metrics_for(telemetry.meter_provider) is first
        assert system_metrics_for(other.meter_provider) is not first
    finally:
        other.shutdown()


#: A script that lives past one periodic export (every 200 ms) before the one at exit.
_IDLE_SCRIPT = "import time\ntime.sleep(0.3)\n"


def _run_instrumented(
    tmp_path: Path, script: str, extra_env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run ``script`` under ``opentelemetry-instrument`` with console metrics every 200 ms."""
    path = tmp_path / "agent.py"
    path.write_text(textwrap.dedent(script))
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "console",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [str(launcher), sys.executable, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        cwd=tmp_path,
    )
    try:
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, stderr


@pytest.mark.integration
def test_opentelemetry_instrument_exports_system_metrics_from_an_unchanged_script(
    tmp_path: Path,
) -> None:
    # The script knows nothing of OpenTelemetry: our configurator builds the SDK from the
    # OTEL_* variables and the instrumentor adds the system metrics.
    returncode, stdout, stderr = _run_instrumented(tmp_path, _IDLE_SCRIPT)
    assert returncode == 0, stderr
    exported = set(re.findall(r'"name": "((?:system|process)\.[a-z._]+)"', stdout))
    assert exported == SYSTEM_NAMES


@pytest.mark.integration
def test_otel_python_configurator_picks_ours_over_another_installed_configurator(
    tmp_path: Path,
) -> None:
    # A stand-in for opentelemetry-distro's configurator, installed on PYTHONPATH.
    site = tmp_path / "site"
    dist_info = site / "competing_distro-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: competing-distro\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[opentelemetry_configurator]\nconfigurator = competing_configurator:Configurator\n"
    )
    (site / "competing_configurator.py").write_text(
        textwrap.dedent(
            """
            class Configurator:
                def configure(self, **kwargs):
                    print("COMPETING CONFIGURATOR RAN")
            """
        )
    )
    returncode, stdout, stderr = _run_instrumented(
        tmp_path,
        _IDLE_SCRIPT,
        {"PYTHONPATH": str(site), "OTEL_PYTHON_CONFIGURATOR": "otel_agents"},
    )
    assert returncode == 0, stderr
    assert "COMPETING CONFIGURATOR RAN" not in stdout
    assert "Configuration of configurator not loaded" in stderr
    exported = set(re.findall(r'"name": "((?:system|process)\.[a-z._]+)"', stdout))
    assert exported == SYSTEM_NAMES


@pytest.mark.integration
def test_application_logs_reach_the_logs_exporter_with_the_logs_extra(tmp_path: Path) -> None:
    # otel-agents[logs] installs opentelemetry-instrumentation-logging; under
    # opentelemetry-instrument its handler writes to the LoggerProvider our configurator made.
    script = """
        import logging
        from opentelemetry import trace

        logging.getLogger("app").warning("plain warning")
        with trace.get_tracer("app").start_as_current_span("work") as span:
            logging.getLogger("app").error("inside a span")
            print("SPAN", format(span.get_span_context().trace_id, "032x"))
    """
    returncode, stdout, stderr = _run_instrumented(
        tmp_path,
        script,
        {
            "OTEL_SERVICE_NAME": "logging-agent",
            "OTEL_LOGS_EXPORTER": "console",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "none",
        },
    )
    assert returncode == 0, stderr
    records = {
        record["body"]: record
        for record in _json_objects(stdout)
        if isinstance(record, dict) and "severity_text" in record
    }
    assert records["plain warning"]["severity_text"] == "WARN"
    assert records["plain warning"]["resource"]["attributes"]["service.name"] == "logging-agent"
    (trace_id,) = re.findall(r"SPAN ([0-9a-f]{32})", stdout)
    assert records["inside a span"]["trace_id"] == "0x" + trace_id


def _json_objects(text: str) -> list[Any]:
    """The JSON documents the console exporters print one after another."""
    decoder = json.JSONDecoder()
    found, index = [], 0
    while (start := text.find("{", index)) != -1:
        try:
            document, index = decoder.raw_decode(text, start)
        except ValueError:
            index = start + 1
            continue
        found.append(document)
    return found


@pytest.mark.integration
def test_logging_auto_instrumentation_variable_sends_app_logs_exactly_once(
    tmp_path: Path,
) -> None:
    # With the variable set, logging's instrumentor leaves the handler to the configurator
    # (as the SDK's configurator adds one): ours must add it, and only one.
    returncode, stdout, stderr = _run_instrumented(
        tmp_path,
        'import logging\nlogging.getLogger("app").warning("plain warning")\n',
        {
            "OTEL_LOGS_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
        },
    )
    assert returncode == 0, stderr
    bodies = [
        record["body"]
        for record in _json_objects(stdout)
        if isinstance(record, dict) and "severity_text" in record
    ]
    assert bodies.count("plain warning") == 1, stdout
