"""A hub and two agents in real processes on 127.0.0.1: one trace across all of them.

The processes export spans over OTLP to a real receiver, ``rotel`` (a dev dependency),
which prints what it receives; metrics go to the console exporter, printed at shutdown.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from otel_agents.messaging import MessageType, SecurityConfig
from otel_agents.messaging.remote import RemoteAgent
from otel_agents.testing import TelemetryCapture

pytestmark = pytest.mark.integration

SECRET = "integration-secret"
KEY = "integration-signing-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


ANSI = re.compile(r"\x1b\[[0-9;]*m")
FIELD = re.compile(r"^(Trace ID|Parent ID|ID|Name|Kind)\s*: ?(.*)$")


def received_spans(text: str) -> list[dict[str, str]]:
    """Spans in rotel's detailed debug output, each with its ``service``."""
    spans: list[dict[str, str]] = []
    service = ""
    for raw in text.splitlines():
        line = ANSI.sub("", raw).strip()
        if line.startswith("-> service.name: Str("):
            service = line[len("-> service.name: Str(") : -1]
        elif line.startswith("Span #"):
            spans.append({"service": service})
        elif spans and (match := FIELD.match(line)):
            spans[-1].setdefault(match.group(1), match.group(2).strip())
    return spans


class Cluster:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.outputs: dict[str, Path] = {}
        self.hub_port = free_port()
        self.hub_url = f"http://127.0.0.1:{self.hub_port}"
        self.otlp_port = free_port()

    def start_receiver(self) -> None:
        import rotel

        binary = Path(os.path.dirname(rotel.__file__)) / "rotel-agent"
        self.outputs["rotel"] = self.tmp_path / "rotel.out"
        with self.outputs["rotel"].open("wb") as stdout:
            self.processes["rotel"] = subprocess.Popen(
                [
                    str(binary), "start",
                    "--otlp-grpc-endpoint", f"127.0.0.1:{free_port()}",
                    "--otlp-http-endpoint", f"127.0.0.1:{self.otlp_port}",
                    "--exporter", "blackhole",
                    "--debug-log", "traces", "--debug-log-verbosity", "detailed",
                    "--pid-file", str(self.tmp_path / "rotel.pid"),
                    "--log-file", str(self.tmp_path / "rotel.log"),
                ],
                stdout=stdout,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.otlp_port)) == 0

        self.wait_until(listening, "the OTLP receiver")

    def start(self, name: str, *args: str) -> None:
        env = {
            **os.environ,
            "OTEL_SERVICE_NAME": name,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{self.otlp_port}",
            "OTEL_METRICS_EXPORTER": "console",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_METRIC_EXPORT_INTERVAL": "600000",
            "OTEL_AGENTS_SYSTEM_METRICS": "false",
            "OTEL_AGENTS_MESSAGING_SECRET": SECRET,
            "OTEL_AGENTS_MESSAGING_SIGNING_KEY": KEY,
        }
        out = self.tmp_path / f"{name}.out"
        self.outputs[name] = out
        with out.open("wb") as stdout, (self.tmp_path / f"{name}.err").open("wb") as stderr:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "otel_agents.messaging.cli", *args],
                stdout=stdout,
                stderr=stderr,
                env=env,
            )

    def wait_until(self, check: Any, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    err = self.tmp_path / f"{name}.err"
                    shown = err.read_text() if err.exists() else ""
                    raise AssertionError(f"{name} exited early:\n{shown}")
            try:
                if check():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def registered(self) -> list[str]:
        response = httpx.get(
            self.hub_url + "/agents",
            headers={"authorization": f"Bearer {SECRET}", "x-agent-id": "test"},
        )
        return [agent["agent_id"] for agent in response.json()]

    def stop(self, *names: str) -> None:
        chosen = [p for n, p in self.processes.items() if not names or n in names]
        for process in chosen:
            if process.poll() is None:
                process.terminate()
        for process in chosen:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def metrics(self, name: str) -> list[dict[str, Any]]:
        """The metrics data a process's console exporter printed."""
        text = self.outputs[name].read_text()
        decoder = json.JSONDecoder()
        found, index = [], 0
        while (start := text.find("{", index)) >= 0:
            item, index = decoder.raw_decode(text, start)
            found.append(item)
        return found

    def spans(self) -> list[dict[str, str]]:
        return received_spans(self.outputs["rotel"].read_text(errors="replace"))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def metric_points(metrics: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [
        point
        for data in metrics
        for resource in data["resource_metrics"]
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
        if metric["name"] == name
        for point in metric["data"]["data_points"]
    ]


def test_a_forwarded_task_is_one_trace_across_hub_and_two_agent_processes(
    cluster: Cluster, telemetry: TelemetryCapture
) -> None:
    cluster.start_receiver()
    cluster.start("hub", "hub", "--port", str(cluster.hub_port))
    cluster.wait_until(lambda: httpx.get(cluster.hub_url + "/healthz").status_code == 200, "hub")
    for agent_id, extra in (("agent-b", []), ("agent-a", ["--forward-to", "agent-b"])):
        port = str(free_port())
        arguments = ["--id", agent_id, "--capabilities", "work", "--hub", cluster.hub_url]
        cluster.start(agent_id, "agent", *arguments, "--port", port, *extra)
    cluster.wait_until(lambda: cluster.registered() == ["agent-a", "agent-b"], "registrations")

    coordinator = RemoteAgent(
        "coordinator",
        "Coordinator",
        ["planning"],
        "http://127.0.0.1:1",
        cluster.hub_url,
        security=SecurityConfig(shared_secret=SECRET, signing_key=KEY),
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )

    async def send() -> None:
        await coordinator.register()
        await coordinator.send_message("agent-a", MessageType.TASK_ASSIGNMENT, {"task": "scan"})
        await coordinator.aclose()

    asyncio.run(send())
    trace_id = f"{telemetry.span('send agent-a').context.trace_id:032x}"

    def in_trace() -> list[dict[str, str]]:
        return [s for s in cluster.spans() if s["Trace ID"] == trace_id]

    cluster.wait_until(
        lambda: any(s["Name"] == "process agent-b" for s in in_trace()), "agent-b to process"
    )
    cluster.stop("hub", "agent-a", "agent-b")
    spans = in_trace()

    def by_service(service: str) -> dict[str, str]:
        return {s["Name"]: s["Kind"] for s in spans if s["service"] == service}

    assert by_service("hub") == {
        "POST /messages": "SPAN_KIND_SERVER",
        "route agent-a": "SPAN_KIND_INTERNAL",
        "route agent-b": "SPAN_KIND_INTERNAL",
    }
    assert by_service("agent-a") == {
        "POST /inbox": "SPAN_KIND_SERVER",
        "process agent-a": "SPAN_KIND_CONSUMER",
        "send agent-b": "SPAN_KIND_PRODUCER",
    }
    assert by_service("agent-b") == {
        "POST /inbox": "SPAN_KIND_SERVER",
        "process agent-b": "SPAN_KIND_CONSUMER",
    }

    def one(name: str) -> dict[str, str]:
        (span,) = [s for s in spans if s["Name"] == name]
        return span

    assert (
        one("process agent-a")["Parent ID"]
        == f"{telemetry.span('send agent-a').context.span_id:016x}"
    )
    assert one("send agent-b")["Parent ID"] == one("process agent-a")["ID"]
    assert one("route agent-b")["Parent ID"] == one("send agent-b")["ID"]
    assert one("process agent-b")["Parent ID"] == one("send agent-b")["ID"]
    received = cluster.outputs["rotel"].read_text(errors="replace")
    assert SECRET not in received
    assert KEY not in received

    consumed = metric_points(cluster.metrics("agent-b"), "messaging.client.consumed.messages")
    assert [p["value"] for p in consumed] == [1]
    routed = metric_points(cluster.metrics("hub"), "messaging.client.sent.messages")
    assert sorted(p["attributes"]["messaging.destination.name"] for p in routed) == [
        "agent-a",
        "agent-b",
    ]
