"""``configure()`` finds what the SDK's configurator finds: entry-point exporters, samplers and
id generators, ``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED``, host resource attributes.

The plug-ins are real: a ``probe_plugins`` distribution (a ``dist-info`` with its
``entry_points.txt``, and a module) is written to a directory put on ``PYTHONPATH`` of the probe
interpreter, where ``importlib.metadata`` finds it exactly as it finds an installed package.
Its exporters write what they export to files, which the tests read back.
"""

from __future__ import annotations

import json
import socket
import textwrap
from pathlib import Path

import pytest
from _support import (
    GRPC_SPAN,
    HTTP_SPAN,
    Probe,
    Probes,
    Scenarios,
    metric_classes,
    span_classes,
)
from opentelemetry.semconv._incubating.attributes.host_attributes import HOST_ARCH, HOST_NAME
from opentelemetry.semconv._incubating.attributes.os_attributes import OS_TYPE

SCENARIOS = Scenarios()
scenario = SCENARIOS.add

ENTRY_POINTS = """
[opentelemetry_traces_exporter]
probe_file = probe_plugins:FileSpanExporter

[opentelemetry_metrics_exporter]
probe_file = probe_plugins:FileMetricExporter

[opentelemetry_logs_exporter]
probe_file = probe_plugins:FileLogExporter

[opentelemetry_traces_sampler]
probe_sampler = probe_plugins:make_sampler

[opentelemetry_id_generator]
probe_ids = probe_plugins:CountingIds
"""

MODULE = """
import json, os

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult


def _write(kind, items):
    with open(os.environ["PROBE_PLUGIN_OUT"], "a") as out:
        for item in items:
            out.write(json.dumps([kind, item]) + "\\n")


class FileSpanExporter(SpanExporter):
    def export(self, spans):
        _write("span", [[s.name, format(s.context.span_id, "016x")] for s in spans])
        return SpanExportResult.SUCCESS


class FileMetricExporter(MetricExporter):
    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        _write("metric", [
            m.name
            for rm in metrics_data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
        ])
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis=10_000):
        return True

    def shutdown(self, timeout_millis=30_000, **kwargs):
        pass


class FileLogExporter(LogRecordExporter):
    def export(self, batch):
        _write("log", [str(r.log_record.body) for r in batch])
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis=30_000):
        return True

    def shutdown(self):
        pass


class _ProbeSampler(Sampler):
    def __init__(self, arg):
        self.arg = arg

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None,
                      links=None, trace_state=None):
        return SamplingResult(Decision.RECORD_AND_SAMPLE, {"probe.sampler.arg": str(self.arg)})

    def get_description(self):
        return f"ProbeSampler{{{self.arg}}}"


def make_sampler(arg):
    return _ProbeSampler(arg)


class CountingIds(IdGenerator):
    def __init__(self):
        self.n = 0

    def generate_span_id(self):
        self.n += 1
        return 0xABC000 + self.n

    def generate_trace_id(self):
        return 0xFEED
"""

#: Spans, metrics and logs through the probe's file exporters; read back by the tests.
EMIT = """
import logging as _logging
from opentelemetry import metrics as _metrics, trace as _trace
with _trace.get_tracer("probe").start_as_current_span("plugin-span"):
    pass
_metrics.get_meter("probe").create_counter("probe.count").add(1)
_logging.getLogger("app").warning("app record")
otel_agents.shutdown()
lines = open(os.environ["PROBE_PLUGIN_OUT"]).read().splitlines()
result["extra"]["out"] = [json.loads(line) for line in lines]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the ``probe_plugins`` distribution."""
    folder = tmp_path_factory.mktemp("site")
    dist_info = folder / "probe_plugins-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: probe-plugins\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(ENTRY_POINTS)
    (folder / "probe_plugins.py").write_text(textwrap.dedent(MODULE))
    return folder


@pytest.fixture(scope="module")
def probes(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Probes:
    out = tmp_path_factory.mktemp("out")
    for name, spec in SCENARIOS.specs.items():
        env = dict(spec.get("env") or {})
        env["PYTHONPATH"] = str(site)
        env["PROBE_PLUGIN_OUT"] = str(out / f"{name}.jsonl")
        (out / f"{name}.jsonl").touch()
        spec["env"] = env
    return SCENARIOS.run()


def exported(probe: Probe, kind: str) -> list[object]:
    return [item for k, item in probe.extra["out"] if k == kind]


def errors(probe: Probe) -> list[str]:
    return [r["message"] for r in probe.result["logs"] if r["level"] == "ERROR"]


# --------------------------------------------------------------------------------------
# Exporters
# --------------------------------------------------------------------------------------
scenario(
    "entry_point_exporters_export_every_signal",
    {
        "OTEL_TRACES_EXPORTER": "probe_file",
        "OTEL_METRICS_EXPORTER": "probe_file",
        "OTEL_LOGS_EXPORTER": "probe_file",
        "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
    },
    after=EMIT,
)


def test_entry_point_exporters_export_every_signal(probes: Probes) -> None:
    probe = probes["entry_point_exporters_export_every_signal"]
    assert [m for m in probe.warnings() if m != "app record"] == []
    assert [name for name, _ in exported(probe, "span")] == ["plugin-span"]  # type: ignore[misc]
    assert "probe.count" in exported(probe, "metric")
    assert "app record" in exported(probe, "log")


scenario(
    "entry_point_exporter_as_a_keyword_argument",
    kwargs="{'traces_exporter': ['probe_file', 'console']}",
    after="result['extra']['exporters'] = otel_agents.get_telemetry().settings['exporters']",
)


def test_entry_point_exporter_as_a_keyword_argument(probes: Probes) -> None:
    probe = probes["entry_point_exporter_as_a_keyword_argument"]
    assert probe.error is None
    assert probe.extra["exporters"]["traces"] == ["probe_file", "console"]
    assert len(probe.telemetry["span_exporters"]) == 2


scenario(
    "installed_otlp_proto_grpc_entry_point_is_used_by_name",
    {"OTEL_TRACES_EXPORTER": "otlp_proto_grpc", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
)


def test_installed_otlp_proto_grpc_entry_point_is_used_by_name(probes: Probes) -> None:
    # The SDK's own names: the protocol is in the name, whatever the protocol variable says.
    probe = probes["installed_otlp_proto_grpc_entry_point_is_used_by_name"]
    assert span_classes(probe) == [GRPC_SPAN]
    assert HTTP_SPAN not in span_classes(probe)


CHECK_UNKNOWN_KWARG = """
try:
    otel_agents.configure(traces_exporter="zipkn")
except Exception as exc:
    result["extra"]["raised"] = [type(exc).__name__, str(exc)]
"""
scenario("unknown_exporter_keyword_raises_naming_the_installed_choices", after=CHECK_UNKNOWN_KWARG)


def test_unknown_exporter_keyword_raises_naming_the_installed_choices(probes: Probes) -> None:
    probe = probes["unknown_exporter_keyword_raises_naming_the_installed_choices"]
    kind, message = probe.extra["raised"]
    assert kind == "ConfigurationError"
    assert message.startswith("traces_exporter='zipkn' is not valid")
    assert "valid choices: otlp, console, none, otlp_proto_grpc, otlp_proto_http, probe_file" in (
        message
    )


scenario(
    "unknown_exporter_variable_is_an_error_and_nothing_is_exported",
    {"OTEL_TRACES_EXPORTER": "zipkn", "OTEL_METRICS_EXPORTER": "zipkn"},
)


def test_unknown_exporter_variable_is_an_error_and_nothing_is_exported(probes: Probes) -> None:
    probe = probes["unknown_exporter_variable_is_an_error_and_nothing_is_exported"]
    assert probe.error is None
    assert probe.telemetry["span_exporters"] == []
    assert metric_classes(probe) == []
    traces, metrics = errors(probe)
    assert traces.startswith("OTEL_TRACES_EXPORTER names 'zipkn', which is not installed")
    assert "probe_file" in traces
    assert metrics.startswith("OTEL_METRICS_EXPORTER names 'zipkn'")
    assert "prometheus" in metrics


# --------------------------------------------------------------------------------------
# Samplers and id generators
# --------------------------------------------------------------------------------------
scenario(
    "entry_point_sampler_gets_the_sampler_arg",
    {"OTEL_TRACES_SAMPLER": "probe_sampler", "OTEL_TRACES_SAMPLER_ARG": "tenant-7"},
)


def test_entry_point_sampler_gets_the_sampler_arg(probes: Probes) -> None:
    probe = probes["entry_point_sampler_gets_the_sampler_arg"]
    assert probe.telemetry["sampler"] == "ProbeSampler{tenant-7}"
    assert probe.warnings() == []


scenario("entry_point_sampler_as_a_keyword_argument", kwargs="{'sampler': 'probe_sampler'}")


def test_entry_point_sampler_as_a_keyword_argument(probes: Probes) -> None:
    probe = probes["entry_point_sampler_as_a_keyword_argument"]
    assert probe.telemetry["sampler"] == "ProbeSampler{None}"


scenario(
    "unknown_sampler_variable_warns_naming_the_installed_ones",
    {"OTEL_TRACES_SAMPLER": "probe_samplr"},
)


def test_unknown_sampler_variable_warns_naming_the_installed_ones(probes: Probes) -> None:
    probe = probes["unknown_sampler_variable_warns_naming_the_installed_ones"]
    (warning,) = probe.warnings()
    assert "OTEL_TRACES_SAMPLER='probe_samplr'" in warning
    assert "probe_sampler" in warning
    assert warning.endswith("using the default parentbased_always_on")


IDS = """
with trace.get_tracer("probe").start_as_current_span("s") as span:
    context = span.get_span_context()
result["extra"]["ids"] = [context.trace_id, context.span_id]
provider = otel_agents.get_telemetry().tracer_provider
result["extra"]["generator"] = type(provider.id_generator).__name__
"""
scenario("id_generator_from_an_entry_point", {"OTEL_PYTHON_ID_GENERATOR": "probe_ids"}, after=IDS)
scenario("id_generator_random", {"OTEL_PYTHON_ID_GENERATOR": "random"}, after=IDS)
scenario("id_generator_unknown", {"OTEL_PYTHON_ID_GENERATOR": "sequential"}, after=IDS)


def test_id_generator_from_an_entry_point_makes_the_ids(probes: Probes) -> None:
    probe = probes["id_generator_from_an_entry_point"]
    assert probe.extra["generator"] == "CountingIds"
    assert probe.extra["ids"] == [0xFEED, 0xABC001]


def test_id_generator_random_is_the_sdks(probes: Probes) -> None:
    assert probes["id_generator_random"].extra["generator"] == "RandomIdGenerator"


def test_unknown_id_generator_warns_and_uses_random(probes: Probes) -> None:
    probe = probes["id_generator_unknown"]
    assert probe.extra["generator"] == "RandomIdGenerator"
    (warning,) = probe.warnings()
    assert "OTEL_PYTHON_ID_GENERATOR='sequential'" in warning
    assert "probe_ids" in warning


# --------------------------------------------------------------------------------------
# Application logs
# --------------------------------------------------------------------------------------
scenario(
    "without_logging_auto_instrumentation_app_records_stay_out",
    {"OTEL_LOGS_EXPORTER": "probe_file"},
    after=EMIT,
)


def test_without_logging_auto_instrumentation_app_records_stay_out(probes: Probes) -> None:
    probe = probes["without_logging_auto_instrumentation_app_records_stay_out"]
    assert exported(probe, "log") == []


# The modules of the root handlers' classes and their bases: configure() subclasses the
# handler it picks (our records' exceptions are exported redacted).
LOG_HANDLERS = """
import logging as _logging
def _modules():
    return [c.__module__ for h in _logging.getLogger().handlers for c in type(h).__mro__]
result["extra"]["handlers"] = _modules()
otel_agents.shutdown()
result["extra"]["after"] = _modules()
"""
scenario(
    "logging_auto_instrumentation_uses_the_logs_extras_handler",
    {"OTEL_LOGS_EXPORTER": "console", "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true"},
    after=LOG_HANDLERS,
)


def test_logging_auto_instrumentation_uses_the_logs_extras_handler(probes: Probes) -> None:
    probe = probes["logging_auto_instrumentation_uses_the_logs_extras_handler"]
    assert "opentelemetry.instrumentation.logging.handler" in probe.extra["handlers"]
    assert "opentelemetry.instrumentation.logging.handler" not in probe.extra["after"]


# --------------------------------------------------------------------------------------
# Host resource attributes
# --------------------------------------------------------------------------------------
scenario("host_resource_attributes_are_detected")
scenario(
    "host_resource_attributes_from_the_user_win",
    {"OTEL_RESOURCE_ATTRIBUTES": f"{HOST_NAME}=edge-7,{OS_TYPE}=plan9"},
)
scenario(
    "resource_detectors_variable_decides_what_is_detected",
    {"OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel"},
)


def test_host_resource_attributes_are_detected(probes: Probes) -> None:
    resource = probes["host_resource_attributes_are_detected"].telemetry["resource"]
    assert resource[HOST_NAME] == socket.gethostname()
    assert resource[HOST_ARCH]
    assert resource[OS_TYPE]


def test_host_resource_attributes_from_the_user_win(probes: Probes) -> None:
    resource = probes["host_resource_attributes_from_the_user_win"].telemetry["resource"]
    assert resource[HOST_NAME] == "edge-7"
    assert resource[OS_TYPE] == "plan9"
    assert resource[HOST_ARCH]  # still detected


def test_resource_detectors_variable_decides_what_is_detected(probes: Probes) -> None:
    resource = probes["resource_detectors_variable_decides_what_is_detected"].telemetry["resource"]
    assert HOST_NAME not in resource
    assert json.dumps(resource)  # still a usable resource
