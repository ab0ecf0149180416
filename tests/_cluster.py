"""Real processes on 127.0.0.1 exporting spans to a real OTLP receiver, ``rotel``.

``rotel`` (a Rust OpenTelemetry collector shipped on PyPI, a dev dependency) drops what it
receives (``--exporter blackhole``) and prints every span to its stdout (``--debug-log``),
which :func:`received_spans` reads back. A :class:`Cluster` starts it and ``otel-agents``
subprocesses configured through ``OTEL_*`` variables, and stops each by its pid.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import _http
from _support import REPO, free_port, scrubbed_env

#: The messaging secrets the processes of a :class:`Cluster` share (from the environment).
MESSAGING_SECRET = "integration-secret"
MESSAGING_KEY = "integration-signing-key"
START_TIMEOUT = 20.0  # seconds for a process to listen / become ready; a hang guard
STOP_TIMEOUT = 10.0  # seconds for a process to exit after SIGTERM before it is killed

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SPAN_FIELD = re.compile(r"^(Trace ID|Parent ID|ID|Name|Kind)\s*: ?(.*)$")


def rotel_binary() -> Path:
    """The ``rotel-agent`` executable shipped in the ``rotel`` wheel (a dev dependency)."""
    import rotel

    return Path(os.path.dirname(rotel.__file__)) / "rotel-agent"


def wait_listening(
    port: int, process: subprocess.Popen[bytes], timeout: float = START_TIMEOUT
) -> None:
    """Wait (at most ``timeout`` s) until something accepts on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited early with code {process.returncode}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``process`` (by its pid), then SIGKILL it if it has not exited in time."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


def span_kinds(spans: list[dict[str, str]], service: str) -> dict[str, str]:
    """``{span name: kind}`` of the ``received_spans`` that ``service`` sent."""
    return {s["Name"]: s["Kind"] for s in spans if s["service"] == service}


def received_spans(text: str) -> list[dict[str, str]]:
    """Spans in rotel's detailed debug output: ``Trace ID``, ``Parent ID``, ``ID``,
    ``Name``, ``Kind`` and the ``service`` (``service.name``) that sent each."""
    spans: list[dict[str, str]] = []
    service = ""
    for raw in text.splitlines():
        line = _ANSI.sub("", raw).strip()
        if line.startswith("-> service.name: Str("):
            service = line[len("-> service.name: Str(") : -1]
        elif line.startswith("Span #"):
            spans.append({"service": service})
        elif spans and (match := _SPAN_FIELD.match(line)):
            spans[-1].setdefault(match.group(1), match.group(2).strip())
    return spans


class Cluster:
    """Processes on 127.0.0.1 that export spans to one rotel, each stopped by its pid.

    Every process gets a scrubbed environment (no inherited ``OTEL_*``) plus ``OTEL_*``
    variables pointing at the receiver over OTLP/HTTP, the messaging secrets, and ``env``.
    """

    def __init__(self, tmp_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.tmp_path = tmp_path
        self.env = dict(env or {})
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.outputs: dict[str, Path] = {}
        self.hub_port = free_port()
        self.hub_url = f"http://127.0.0.1:{self.hub_port}"
        self.otlp_port = free_port()

    def start_receiver(self) -> None:
        """Start rotel, printing every span it receives, and wait until it listens."""
        self.outputs["rotel"] = self.tmp_path / "rotel.out"
        with self.outputs["rotel"].open("wb") as stdout:
            self.processes["rotel"] = subprocess.Popen(
                [
                    str(rotel_binary()), "start",
                    "--otlp-grpc-endpoint", f"127.0.0.1:{free_port()}",
                    "--otlp-http-endpoint", f"127.0.0.1:{self.otlp_port}",
                    "--exporter", "blackhole",
                    "--debug-log", "traces", "--debug-log-verbosity", "detailed",
                    # Its defaults are fixed paths in /tmp, shared by every run on the machine.
                    "--pid-file", str(self.tmp_path / "rotel.pid"),
                    "--log-file", str(self.tmp_path / "rotel.log"),
                ],
                stdout=stdout,
                stderr=subprocess.STDOUT,
                env=scrubbed_env(quiet=False),
            )  # fmt: skip
        wait_listening(self.otlp_port, self.processes["rotel"])

    def process_env(self, name: str) -> dict[str, str]:
        """The environment of process ``name``: ``OTEL_*`` settings and messaging secrets."""
        return scrubbed_env(
            {
                "OTEL_SERVICE_NAME": name,
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{self.otlp_port}",
                "OTEL_METRICS_EXPORTER": "console",
                "OTEL_LOGS_EXPORTER": "none",
                "OTEL_BSP_SCHEDULE_DELAY": "50",
                "OTEL_METRIC_EXPORT_INTERVAL": "600000",
                "OTEL_AGENTS_SYSTEM_METRICS": "false",
                "OTEL_AGENTS_MESSAGING_SECRET": MESSAGING_SECRET,
                "OTEL_AGENTS_MESSAGING_SIGNING_KEY": MESSAGING_KEY,
                **self.env,
            },
            quiet=False,
        )

    def start(self, name: str, *args: str) -> None:
        """Run ``otel-agents ARGS`` (``python -m otel_agents._cli``) as process ``name``."""
        out = self.tmp_path / f"{name}.out"
        self.outputs[name] = out
        with out.open("wb") as stdout, (self.tmp_path / f"{name}.err").open("wb") as stderr:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "otel_agents._cli", *args],
                stdout=stdout,
                stderr=stderr,
                env=self.process_env(name),
                cwd=REPO,
            )

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        """Poll ``check`` (at most ``timeout`` s); fail at once if a process died."""
        import httpx

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
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def registered(self) -> list[str]:
        """The ids of the agents registered with the hub."""
        response = _http.get(
            self.hub_url + "/agents",
            headers={"authorization": f"Bearer {MESSAGING_SECRET}", "x-agent-id": "test"},
        )
        return [agent["agent_id"] for agent in response.json()]

    def stop(self, *names: str) -> None:
        """Stop the named processes (all when none are named), each by its pid."""
        chosen = [p for n, p in self.processes.items() if not names or n in names]
        for process in chosen:
            if process.poll() is None:
                process.terminate()
        for process in chosen:
            stop_process(process)

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
        """Every span rotel has received so far."""
        return received_spans(self.outputs["rotel"].read_text(errors="replace"))
