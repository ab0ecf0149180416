"""Helpers shared by the configuration tests: a scrubbed environment and the probe.

The probe calls ``otel_agents.configure(**kwargs)`` and describes what was built, as JSON;
the tests assert on that description. ``configure()`` sets process-wide globals (the
OpenTelemetry providers can be set only once per process), so it runs in this interpreter
between two :func:`otel_agents.testing.reset_configure` calls, which clear them. Scenarios
about a process (its exit, atexit, signals, start-up) run the same probe in a fresh
interpreter instead (``process=True`` or ``exit="normal"``), where it prints its JSON line.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from _ports import free_port as free_port

import otel_agents
from otel_agents.testing import reset_configure

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

#: What the probe knows, in process or in a subprocess: its log collector and ``describe()``.
PROBE_LIB = r"""
import json, logging, os, sys, threading

records = []


class _Collect(logging.Handler):
    def emit(self, record):
        records.append(
            {"logger": record.name, "level": record.levelname, "message": record.getMessage()}
        )


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
"""

#: The subprocess probe's main program.
PROBE_MAIN = r"""
logging.getLogger().addHandler(_Collect())
logging.getLogger().setLevel(logging.INFO)
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
    process: bool = False,
    network: bool = False,
) -> Probe:
    """Run the probe with a scrubbed environment plus ``env``, in process unless it must not.

    Args:
        env: ``OTEL_*`` variables under test.
        kwargs: a Python expression for the keyword arguments of ``configure()``.
        before: code run before ``configure()`` (set your own providers, say).
        after: code run after it; may store JSON-able values in ``result["extra"]``.
        exit: ``"fast"`` skips interpreter shutdown (no exporter flush); ``"normal"`` runs it
            (a fresh interpreter, then: the behaviour is about the process's exit).
        quiet: start from exporters ``none`` and system metrics off.
        process: run in a fresh interpreter even with ``exit="fast"`` (for what is about a
            process: its start-up, its exit, signals, what it prints).
        network: the scenario's exporters really connect (in process all the same); only
            tells :func:`run_probes` to run it when an ``integration`` test asks for it.
    """
    if process or exit != "fast":
        return run_probe_process(
            env, kwargs=kwargs, before=before, after=after, exit=exit, quiet=quiet
        )
    return run_probe_in_process(env, kwargs=kwargs, before=before, after=after, quiet=quiet)


def run_probe_in_process(
    env: Mapping[str, str] | None = None,
    *,
    kwargs: str = "{}",
    before: str = "",
    after: str = "",
    quiet: bool = True,
) -> Probe:
    """The probe in this interpreter: ``configure()`` between two :func:`reset_configure`.

    The environment is exactly the probe's (scrubbed, plus ``env``) while it runs, and
    ``PYTHONPATH`` is put on ``sys.path`` (modules imported from it are forgotten after), so
    the scenario sees what a fresh interpreter would. Python warnings are ignored, as a
    subprocess without ``-W error`` would print them rather than fail.
    """
    environ = scrubbed_env(env, quiet=quiet)
    extra_path = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    namespace: dict[str, Any] = {"__name__": "otel_agents_probe"}
    exec(PROBE_LIB, namespace)
    root = logging.getLogger()
    saved_environ, saved_level, saved_path = dict(os.environ), root.level, list(sys.path)
    saved_modules = set(sys.modules)
    collect = namespace["_Collect"]()
    result: dict[str, Any] = {"extra": {}}
    namespace["result"] = result
    reset_configure()
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:0] = extra_path
    importlib.invalidate_caches()
    root.addHandler(collect)
    root.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(before, namespace)
            arguments = eval(kwargs, namespace)
            try:
                telemetry = otel_agents.configure(**arguments)
                result["error"] = None
            except Exception as exc:
                telemetry = None
                result["error"] = {"type": type(exc).__name__, "message": str(exc)}
            namespace["telemetry"] = telemetry
            exec(after, namespace)
            result["telemetry"] = namespace["describe"](telemetry)
    finally:
        root.removeHandler(collect)
        root.setLevel(saved_level)
        reset_configure()
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.path[:] = saved_path
        _forget_modules_under(extra_path, set(sys.modules) - saved_modules)
    result["logs"] = namespace["records"]
    # The same JSON round trip as the subprocess's: what tests see has one shape either way.
    return Probe(0, "", "", json.loads(json.dumps(result, default=repr)))


def _forget_modules_under(folders: list[str], names: set[str]) -> None:
    for name in names:
        origin = getattr(sys.modules.get(name), "__file__", None) or ""
        if any(origin.startswith(folder) for folder in folders):
            del sys.modules[name]


def run_probe_process(
    env: Mapping[str, str] | None = None,
    *,
    kwargs: str = "{}",
    before: str = "",
    after: str = "",
    exit: str = "fast",
    quiet: bool = True,
) -> Probe:
    """Run the probe in a fresh interpreter (see :func:`run_probe`)."""
    spec = {"kwargs": kwargs, "before": before, "after": after, "exit": exit}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE_LIB + PROBE_MAIN.replace("MARKER", repr(MARKER)),
            json.dumps(spec),
        ],
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


class Probes:
    """Results of many probes; a failed probe fails only the tests using it.

    In-process probes run when the fixture is set up; subprocess probes when a test first
    asks for one (that test starts a process, so it is marked ``integration``).
    """

    def __init__(
        self,
        outcomes: dict[str, Probe | BaseException],
        pending: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._outcomes = outcomes
        self._pending = dict(pending or {})

    def __getitem__(self, name: str) -> Probe:
        if name in self._pending:
            self._outcomes[name] = _outcome(self._pending.pop(name))
        outcome = self._outcomes[name]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def _outcome(spec: Mapping[str, Any]) -> Probe | BaseException:
    try:
        return run_probe(**spec)
    except (AssertionError, subprocess.SubprocessError) as exc:
        return exc


def run_probes(scenarios: Mapping[str, Mapping[str, Any]]) -> Probes:
    """Run every in-process scenario (keyword arguments of :func:`run_probe`) now, one by one.

    The scenarios that need a process (``process=True`` or ``exit="normal"``) or the network
    (``network=True``: an exporter that really connects) run when a test first asks for them;
    those tests are marked ``integration``.
    """
    now = {name: spec for name, spec in scenarios.items() if not _integration(spec)}
    outcomes = {name: _outcome(spec) for name, spec in now.items()}
    later = {name: spec for name, spec in scenarios.items() if name not in now}
    return Probes(outcomes, later)


def _integration(spec: Mapping[str, Any]) -> bool:
    """A scenario that starts a process or uses the network: only integration tests run it."""
    return bool(spec.get("process") or spec.get("network") or spec.get("exit", "fast") != "fast")


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


K = TypeVar("K")
T = TypeVar("T")


def outcomes(futures: Mapping[K, Future[T]]) -> dict[K, T | BaseException]:
    """Each future's result, or the exception it raised: cases run side by side in one
    fixture, and each case's test raises its own failure (the others still pass)."""
    settled: dict[K, T | BaseException] = {}
    for key, future in futures.items():
        try:
            settled[key] = future.result()
        except Exception as exc:  # reported by the test of that case
            settled[key] = exc
    return settled
