"""Helpers shared by the configuration tests: a scrubbed environment and a probe subprocess.

``configure()`` sets process-wide globals (the OpenTelemetry providers can be set only once per
process), so every scenario runs in a fresh interpreter. The probe script below calls
``otel_agents.configure(**kwargs)`` and prints one JSON line describing what was built; the
tests assert on that description.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PROBE_TIMEOUT = 60.0
MARKER = "@@PROBE@@"

#: Defaults for every probe unless a test sets the variable itself: no network, no psutil.
QUIET = {
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_AGENTS_SYSTEM_METRICS": "false",
}

PROBE = r"""
import json, logging, os, sys, threading

records = []


class _Collect(logging.Handler):
    def emit(self, record):
        records.append(
            {"logger": record.name, "level": record.levelname, "message": record.getMessage()}
        )


logging.getLogger().addHandler(_Collect())
logging.getLogger().setLevel(logging.INFO)

import otel_agents
from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider


def exporter_info(exporter):
    exporter = getattr(exporter, "wrapped", exporter)  # configure() guards its exporters
    client = getattr(exporter, "_client", None)
    timeout = getattr(exporter, "_timeout", None)
    headers = getattr(exporter, "_headers", None)
    if client is not None:
        timeout = getattr(client, "_timeout", timeout)
        headers = getattr(client, "_headers", headers)
    if headers is not None and not isinstance(headers, dict):
        headers = dict(headers)
    return {
        "class": type(exporter).__module__ + "." + type(exporter).__qualname__,
        "endpoint": getattr(exporter, "_endpoint", None),
        "timeout": timeout,
        "headers": headers,
    }


def describe(t):
    out = {"configured": t is not None}
    if t is None:
        return out
    out["resource"] = {k: v for k, v in t.resource.attributes.items()}
    out["globals"] = {
        "tracer_provider": t.tracer_provider is not None
        and trace.get_tracer_provider() is t.tracer_provider,
        "meter_provider": t.meter_provider is not None
        and metrics.get_meter_provider() is t.meter_provider,
        "logger_provider": t.logger_provider is not None
        and get_logger_provider() is t.logger_provider,
    }
    out["built"] = {
        "tracer_provider": t.tracer_provider is not None,
        "meter_provider": t.meter_provider is not None,
        "logger_provider": t.logger_provider is not None,
    }
    if t.tracer_provider is not None:
        tp = t.tracer_provider
        out["sampler"] = tp.sampler.get_description()
        out["span_exporters"] = [
            exporter_info(p.span_exporter)
            for p in tp._active_span_processor._span_processors
            if hasattr(p, "span_exporter")
        ]
        out["span_processors"] = [
            type(p).__name__ for p in tp._active_span_processor._span_processors
        ]
    if t.meter_provider is not None:
        readers = []
        for reader in t.meter_provider._metric_readers:
            exporter = getattr(reader, "_exporter", None)
            readers.append(
                {
                    "class": type(reader).__name__,
                    "exporter": None if exporter is None else exporter_info(exporter),
                    "interval_ms": getattr(reader, "_export_interval_millis", None),
                    "timeout_ms": getattr(reader, "_export_timeout_millis", None),
                    "cardinality_limits": {
                        cls.__name__: limit
                        for cls, limit in reader._instrument_class_cardinality_limit.items()
                    },
                }
            )
        out["metric_readers"] = readers
        out["system_metrics"] = t.system_metrics is not None
    if t.logger_provider is not None:
        processors = t.logger_provider._multi_log_record_processor._log_record_processors
        out["log_exporters"] = [
            exporter_info(p._batch_processor._exporter)
            for p in processors
            if hasattr(p, "_batch_processor")
        ]
    out["prometheus"] = t.settings.get("prometheus")
    return out


spec = json.loads(sys.argv[1])
result = {"extra": {}}
exec(spec.get("before", ""))
kwargs = eval(spec.get("kwargs", "{}"))
try:
    telemetry = otel_agents.configure(**kwargs)
    result["error"] = None
except Exception as exc:
    telemetry = None
    result["error"] = {"type": type(exc).__name__, "message": str(exc)}
exec(spec.get("after", ""))
result["telemetry"] = describe(telemetry)
result["logs"] = records
sys.stdout.write("\n" + MARKER + json.dumps(result, default=repr) + "\n")
sys.stdout.flush()
if spec.get("exit", "fast") == "fast":
    os._exit(0)
"""


@dataclass
class Probe:
    """What one probe run reported."""

    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any]

    @property
    def telemetry(self) -> dict[str, Any]:
        return self.result["telemetry"]  # type: ignore[no-any-return]

    @property
    def error(self) -> dict[str, str] | None:
        return self.result["error"]  # type: ignore[no-any-return]

    @property
    def extra(self) -> dict[str, Any]:
        return self.result["extra"]  # type: ignore[no-any-return]

    def warnings(self) -> list[str]:
        """Messages logged at WARNING or above, by any logger."""
        return [r["message"] for r in self.result["logs"] if r["level"] in ("WARNING", "ERROR")]

    def warnings_about(self, text: str) -> list[str]:
        return [m for m in self.warnings() if text in m]


def scrubbed_env(env: Mapping[str, str] | None = None, *, quiet: bool = True) -> dict[str, str]:
    """The current environment without any ``OTEL_*`` variable, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    clean.pop("PYTHONWARNINGS", None)
    if quiet:
        clean.update(QUIET)
    clean.update(env or {})
    return clean


def run_probe(
    env: Mapping[str, str] | None = None,
    *,
    kwargs: str = "{}",
    before: str = "",
    after: str = "",
    exit: str = "fast",
    quiet: bool = True,
) -> Probe:
    """Run the probe in a fresh interpreter with a scrubbed environment plus ``env``.

    Args:
        env: ``OTEL_*`` variables under test.
        kwargs: a Python expression for the keyword arguments of ``configure()``.
        before: code run before ``configure()`` (set your own providers, say).
        after: code run after it; may store JSON-able values in ``result["extra"]``.
        exit: ``"fast"`` skips interpreter shutdown (no exporter flush); ``"normal"`` runs it.
        quiet: start from exporters ``none`` and system metrics off.
    """
    spec = {"kwargs": kwargs, "before": before, "after": after, "exit": exit}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.replace("MARKER", repr(MARKER)), json.dumps(spec)],
        env=scrubbed_env(env, quiet=quiet),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith(MARKER)]
    if completed.returncode != 0 or len(lines) != 1:
        raise AssertionError(
            f"probe failed (exit {completed.returncode})\n"
            f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
        )
    result = json.loads(lines[0][len(MARKER) :])
    return Probe(completed.returncode, completed.stdout, completed.stderr, result)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Probes:
    """Results of many probes run side by side; a failed probe fails only the tests using it."""

    def __init__(self, outcomes: dict[str, Probe | BaseException]) -> None:
        self._outcomes = outcomes

    def __getitem__(self, name: str) -> Probe:
        outcome = self._outcomes[name]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def run_probes(scenarios: Mapping[str, Mapping[str, Any]]) -> Probes:
    """Run every scenario (keyword arguments of :func:`run_probe`) concurrently.

    Each probe is its own interpreter, so running them side by side changes nothing but the
    wall-clock time of the test module.
    """
    workers = max(2, min(8, os.cpu_count() or 2))
    outcomes: dict[str, Probe | BaseException] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(run_probe, **spec) for name, spec in scenarios.items()}
        for name, future in futures.items():
            try:
                outcomes[name] = future.result()
            except (AssertionError, subprocess.SubprocessError) as exc:
                outcomes[name] = exc
    return Probes(outcomes)


# --------------------------------------------------------------------------------------
# What the configure() tests compare against
# --------------------------------------------------------------------------------------
GRPC = "opentelemetry.exporter.otlp.proto.grpc"
HTTP = "opentelemetry.exporter.otlp.proto.http"
GRPC_SPAN = f"{GRPC}.trace_exporter.OTLPSpanExporter"
GRPC_METRIC = f"{GRPC}.metric_exporter.OTLPMetricExporter"
GRPC_LOG = f"{GRPC}._log_exporter.OTLPLogExporter"
HTTP_SPAN = f"{HTTP}.trace_exporter.OTLPSpanExporter"
HTTP_METRIC = f"{HTTP}.metric_exporter.OTLPMetricExporter"
HTTP_LOG = f"{HTTP}._log_exporter.OTLPLogExporter"
CONSOLE_SPAN = "opentelemetry.sdk.trace.export.ConsoleSpanExporter"
CONSOLE_METRIC = "opentelemetry.sdk.metrics._internal.export.ConsoleMetricExporter"
CONSOLE_LOG = "opentelemetry.sdk._logs._internal.export.ConsoleLogRecordExporter"
DEFAULT_SAMPLER = (
    "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,"
    "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
    "localParentNotSampled:AlwaysOffSampler}"
)
#: The SDK instrument classes a reader holds a cardinality limit for.
ALL_INSTRUMENTS = (
    "_Counter",
    "_UpDownCounter",
    "_Histogram",
    "_Gauge",
    "_ObservableCounter",
    "_ObservableUpDownCounter",
    "_ObservableGauge",
)
OTLP_ALL = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
}


def span_classes(probe: Probe) -> list[str]:
    return [e["class"] for e in probe.telemetry["span_exporters"]]


def metric_classes(probe: Probe) -> list[str]:
    return [r["exporter"]["class"] for r in probe.telemetry["metric_readers"] if r["exporter"]]


def log_classes(probe: Probe) -> list[str]:
    return [e["class"] for e in probe.telemetry["log_exporters"]]


class Scenarios:
    """Probe runs declared by a test module, run side by side by its ``probes`` fixture."""

    def __init__(self) -> None:
        self.specs: dict[str, dict[str, Any]] = {}

    def add(self, name: str, env: dict[str, str] | None = None, **spec: Any) -> None:
        """Declare a probe run (the keyword arguments of :func:`run_probe`)."""
        assert name not in self.specs, name
        self.specs[name] = {"env": env, **spec}

    def run(self) -> Probes:
        return run_probes(self.specs)
