"""Spans and metrics reach a real OTLP receiver, configured only through OTEL_* variables.

The receiver is ``rotel`` (a Rust OpenTelemetry collector shipped on PyPI, a dev dependency).
It listens on free loopback ports, drops what it receives (``--exporter blackhole``) and prints
every span and metric to stdout (``--debug-log``), which these tests read back.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _cluster import rotel_binary, stop_process, wait_listening
from _support import REPO, free_port, scrubbed_env

from otel_agents import semconv

pytestmark = pytest.mark.integration

ARRIVAL_TIMEOUT = 15.0  # seconds for exported data to show up in its output
APP_TIMEOUT = 60.0  # a hang guard for the app subprocess, not a speed target

APP = """
import json
import os
import sys
import otel_agents
from opentelemetry import metrics, trace
from otel_agents import semconv

span_name, agent_id = sys.argv[1], sys.argv[2]
otel_agents.configure(otlp_headers=json.loads(os.environ.get("APP_OTLP_HEADERS", "null")))
tracer = trace.get_tracer("otlp-export-test")
with tracer.start_as_current_span(span_name) as span:
    span.set_attribute(semconv.GEN_AI_AGENT_ID, agent_id)
counter = semconv.create_instrument(metrics.get_meter("otlp-export-test"), semconv.AGENT_REQUESTS)
counter.add(3, {semconv.GEN_AI_AGENT_ID: agent_id})
print("user work done", flush=True)
otel_agents.shutdown()
print("shutdown done", flush=True)
"""

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Received:
    """One ResourceSpans or ResourceMetrics block of rotel's debug output."""

    kind: str
    service: str | None = None
    names: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)


def parse_rotel_output(text: str) -> list[Received]:
    blocks: list[Received] = []
    for raw in text.splitlines():
        line = ANSI.sub("", raw).strip()
        if line.startswith(("ResourceSpans #", "ResourceMetrics #")):
            blocks.append(Received(kind=line.split(" ", 1)[0]))
        elif not blocks:
            continue
        elif line.startswith("-> service.name: Str("):
            blocks[-1].service = line[len("-> service.name: Str(") : -1]
        elif blocks[-1].kind == "ResourceSpans" and re.match(r"Name\s+: ", line):
            blocks[-1].names.append(line.split(": ", 1)[1])
        elif blocks[-1].kind == "ResourceMetrics" and line.startswith("-> Name: "):
            blocks[-1].names.append(line[len("-> Name: ") :])
        elif line.startswith("-> "):
            blocks[-1].attributes.append(line[len("-> ") :])
    return blocks


@dataclass
class Rotel:
    process: subprocess.Popen[bytes]
    output: Path
    grpc_port: int
    http_port: int

    def received(self) -> list[Received]:
        return parse_rotel_output(self.output.read_text(errors="replace"))

    def wait_for(self, kind: str, service: str, name: str) -> Received | None:
        """The block of ``kind`` from ``service`` holding ``name``, polling a bounded time."""
        deadline = time.monotonic() + ARRIVAL_TIMEOUT
        while True:
            for block in self.received():
                if block.kind == kind and block.service == service and name in block.names:
                    return block
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


@pytest.fixture(scope="module")
def rotel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rotel]:
    folder = tmp_path_factory.mktemp("rotel")
    grpc_port, http_port = free_port(), free_port()
    output = folder / "stdout.txt"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(rotel_binary()),
                "start",
                "--otlp-grpc-endpoint",
                f"127.0.0.1:{grpc_port}",
                "--otlp-http-endpoint",
                f"127.0.0.1:{http_port}",
                "--exporter",
                "blackhole",
                "--debug-log",
                "traces",
                "--debug-log",
                "metrics",
                "--debug-log-verbosity",
                "detailed",
                # Its defaults are fixed paths in /tmp, shared by every run on the machine.
                "--pid-file",
                str(folder / "rotel.pid"),
                "--log-file",
                str(folder / "rotel.log"),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=scrubbed_env(quiet=False),
        )
    try:
        wait_listening(grpc_port, process)
        wait_listening(http_port, process)
        yield Rotel(process, output, grpc_port, http_port)
    finally:
        stop_process(process)


def run_app(env: dict[str, str], span_name: str, agent_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", APP, span_name, agent_id],
        env=scrubbed_env(env, quiet=False),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=APP_TIMEOUT,
        check=False,
    )


def otlp_env(protocol: str, endpoint: str, service: str) -> dict[str, str]:
    return {
        "OTEL_SERVICE_NAME": service,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
        "OTEL_LOGS_EXPORTER": "none",  # rotel's debug log shows traces and metrics
        "OTEL_AGENTS_SYSTEM_METRICS": "false",
    }


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_span_and_metric_arrive_at_a_real_otlp_receiver(rotel: Rotel, protocol: str) -> None:
    port = rotel.grpc_port if protocol == "grpc" else rotel.http_port
    tag = protocol.replace("/", "-")
    service, span_name, agent_id = f"export-{tag}", f"probe-span-{tag}", f"agent-{tag}"
    app = run_app(otlp_env(protocol, f"http://127.0.0.1:{port}", service), span_name, agent_id)
    assert app.returncode == 0, app.stderr
    assert app.stdout.splitlines() == ["user work done", "shutdown done"]
    assert "otel-agents shutdown" not in app.stderr  # nothing was lost, nothing to report

    spans = rotel.wait_for("ResourceSpans", service, span_name)
    assert spans is not None, rotel.output.read_text(errors="replace")[-3000:]
    assert f"{semconv.GEN_AI_AGENT_ID}: Str({agent_id})" in spans.attributes

    metric = rotel.wait_for("ResourceMetrics", service, semconv.AGENT_REQUESTS.name)
    assert metric is not None, rotel.output.read_text(errors="replace")[-3000:]
    assert f"{semconv.GEN_AI_AGENT_ID}: Str({agent_id})" in metric.attributes
    assert f"Unit: {semconv.AGENT_REQUESTS.unit}" in metric.attributes
    assert "DataType: Sum" in metric.attributes


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_headers_given_to_configure_may_use_any_case(rotel: Rotel, protocol: str) -> None:
    # gRPC metadata keys must be lower case; HTTP header names are case-insensitive.
    port = rotel.grpc_port if protocol == "grpc" else rotel.http_port
    tag = "headers-" + protocol.replace("/", "-")
    env = otlp_env(protocol, f"http://127.0.0.1:{port}", f"export-{tag}")
    env["APP_OTLP_HEADERS"] = '{"X-Tenant-Id": "acme"}'
    app = run_app(env, f"probe-span-{tag}", f"agent-{tag}")
    assert app.returncode == 0, app.stderr

    spans = rotel.wait_for("ResourceSpans", f"export-{tag}", f"probe-span-{tag}")
    assert spans is not None, app.stderr[-3000:]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_unreachable_collector_never_crashes_or_blocks_the_app(protocol: str) -> None:
    closed = free_port()  # nothing listens there
    env = otlp_env(protocol, f"http://127.0.0.1:{closed}", f"unreachable-{protocol}")
    env["OTEL_EXPORTER_OTLP_TIMEOUT"] = "500"
    started = time.monotonic()
    app = run_app(env, "lost-span", "agent-lost")
    elapsed = time.monotonic() - started
    print(f"unreachable collector over {protocol}: app finished in {elapsed:.2f}s")
    assert app.returncode == 0, app.stderr
    assert app.stdout.splitlines() == ["user work done", "shutdown done"]
    assert "Traceback" not in app.stderr


SHORT_APP = """
import otel_agents
otel_agents.configure()
print("user work done", flush=True)
otel_agents.shutdown()
print("shutdown done", flush=True)
"""


def test_a_program_shorter_than_the_export_interval_exports_system_metrics(
    rotel: Rotel, tmp_path: Path
) -> None:
    # The interval (60 s) never elapses: only the final collection at shutdown can carry
    # the system.* and process.* metrics.
    service = "short-program"
    env = otlp_env("http/protobuf", f"http://127.0.0.1:{rotel.http_port}", service)
    env["OTEL_METRIC_EXPORT_INTERVAL"] = "60000"
    env["OTEL_AGENTS_SYSTEM_METRICS"] = "true"
    env["TMPDIR"] = str(tmp_path)  # its own host-metrics election, won by this program
    app = subprocess.run(
        [sys.executable, "-c", SHORT_APP],
        env=scrubbed_env(env, quiet=False),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=APP_TIMEOUT,
        check=False,
    )
    assert app.returncode == 0, app.stderr
    assert app.stdout.splitlines() == ["user work done", "shutdown done"]
    for spec in (semconv.SYSTEM_CPU_UTILIZATION, semconv.PROCESS_CPU_TIME):
        block = rotel.wait_for("ResourceMetrics", service, spec.name)
        assert block is not None, rotel.output.read_text(errors="replace")[-3000:]
