"""``shutdown()`` ends within ``OTEL_AGENTS_SHUTDOWN_TIMEOUT`` whatever the Collector does.

Each app is a fresh interpreter exporting all three signals over OTLP to a Collector that
refuses connections (a closed port), accepts them and never answers (a raw socket server), or
answers 503 with a long ``Retry-After`` (so the exporter sits in its retry backoff). Without a
bound, stopping took 13-20 s for traces and metrics alone. The asserts allow the bound plus a
generous 10 s for a loaded machine: they catch a shutdown that waits out the exporters'
timeouts and backoffs, not a slow one.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _cluster import wait_listening
from _support import REPO, free_port, outcomes, run_probe, scrubbed_env

pytestmark = pytest.mark.integration

BOUND = 1.0  # OTEL_AGENTS_SHUTDOWN_TIMEOUT for these apps, in seconds
DRAIN = 1.0  # OTEL_AGENTS_DRAIN_TIMEOUT for these servers (default 3 s; uvicorn: whole s)
MARGIN = 10.0  # what a loaded machine may add; the unbounded shutdown took 13 s or more
APP_TIMEOUT = 120.0  # a hang guard for the app subprocess

APP = """
import json
import time
import otel_agents
from opentelemetry import metrics, trace
from otel_agents import semconv

telemetry = otel_agents.configure()
tracer = trace.get_tracer("shutdown-test")
for number in range(10):
    with tracer.start_as_current_span(f"span-{number}"):
        pass
counter = semconv.create_instrument(metrics.get_meter("shutdown-test"), semconv.AGENT_REQUESTS)
counter.add(1)
started = time.monotonic()
otel_agents.shutdown()
print(f"shutdown took {time.monotonic() - started:.3f}", flush=True)
print("dropped " + json.dumps(telemetry.dropped), flush=True)
"""


class _BlackHole:
    """Accepts TCP connections on 127.0.0.1 and never answers (nor closes them)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.02)  # how soon close() is noticed
        self.port = int(self.sock.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self.sock.close()


class _Unavailable(BaseHTTPRequestHandler):
    """Answers every OTLP/HTTP export with 503 and ``Retry-After: 25``: back off a long time."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(503)
        self.send_header("Retry-After", "25")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def collectors() -> Iterator[dict[str, int]]:
    """Ports of the misbehaving Collectors, by behaviour."""
    hole = _BlackHole()
    unavailable = ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    serving = threading.Thread(
        target=unavailable.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    serving.start()
    try:
        yield {
            "refused": free_port(),
            "black-hole": hole.port,
            "retry-after": int(unavailable.server_address[1]),
        }
    finally:
        unavailable.shutdown()
        unavailable.server_close()
        hole.close()


def _run(port: int, protocol: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {
        "OTEL_SERVICE_NAME": "shutdown-test",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_TIMEOUT": "30000",  # longer than the bound: the bound must win
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_AGENTS_SHUTDOWN_TIMEOUT": str(int(BOUND * 1000)),
    }
    started = time.monotonic()
    app = subprocess.run(
        [sys.executable, "-c", APP],
        env=scrubbed_env(env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=APP_TIMEOUT,
        check=False,
    )
    return time.monotonic() - started, app


CASES = [
    ("refused", "http/protobuf"),
    ("refused", "grpc"),
    ("black-hole", "http/protobuf"),
    ("black-hole", "grpc"),
    ("retry-after", "http/protobuf"),
]


@dataclass
class Started:
    """The apps of ``CASES`` and the servers of ``SERVERS``, under way."""

    apps: dict[tuple[str, str], Future[tuple[float, subprocess.CompletedProcess[str]]]]
    servers: dict[str, Future[tuple[float, str]]]


@pytest.fixture(scope="module")
def started(
    collectors: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Started]:
    """Every app and server of this module, side by side: each is its own interpreter, so
    only the wall-clock time changes (the bounds are measured inside each one)."""
    with ThreadPoolExecutor(max_workers=len(CASES) + len(SERVERS)) as pool:
        yield Started(
            {case: pool.submit(_run, collectors[case[0]], case[1]) for case in CASES},
            {
                name: pool.submit(
                    _stop_server, collectors, tmp_path_factory.mktemp(name), command, in_flight
                )
                for name, (command, in_flight) in SERVERS.items()
            },
        )


@pytest.fixture(scope="module")
def runs(
    started: Started,
) -> dict[tuple[str, str], tuple[float, subprocess.CompletedProcess[str]]]:
    return {case: future.result() for case, future in started.apps.items()}


@pytest.mark.parametrize(("collector", "protocol"), CASES)
def test_shutdown_is_bounded_and_says_what_was_dropped(
    runs: dict[tuple[str, str], tuple[float, subprocess.CompletedProcess[str]]],
    collector: str,
    protocol: str,
) -> None:
    elapsed, app = runs[(collector, protocol)]
    print(f"{collector} over {protocol}: app took {elapsed:.2f}s; {app.stdout.strip()}")
    assert app.returncode == 0, app.stderr[-3000:]
    (line,) = [line for line in app.stdout.splitlines() if line.startswith("shutdown took")]
    assert float(line.split()[-1]) < BOUND + MARGIN, app.stderr[-3000:]
    assert elapsed < BOUND + MARGIN + 10.0  # interpreter start and exit included
    (report,) = [line for line in app.stderr.splitlines() if "otel-agents shutdown" in line]
    assert "Not exported: spans: 10" in report
    assert "metric data points" in report
    (dropped,) = [line for line in app.stdout.splitlines() if line.startswith("dropped ")]
    assert json.loads(dropped.split(" ", 1)[1])["spans"] == 10
    assert "Traceback" not in app.stderr


# --------------------------------------------------------------------------------------
# The command-line servers on SIGTERM (Docker's stop timeout is 10 s)
# --------------------------------------------------------------------------------------
SERVER_START_TIMEOUT = 30.0  # a hang guard for start-up on a loaded machine


def _gateway_command(tmp_path: Path, port: int, upstream: int) -> list[str]:
    config = tmp_path / "gateway.toml"
    config.write_text(
        f"""
[gateway]
port = {port}
request_timeout = 60

[[services]]
service_id = "users"
name = "Users"
version = "v1"
base_url = "http://127.0.0.1:{upstream}"
path_prefix = "/users"
"""
    )
    return [sys.executable, "-m", "otel_agents.gateway._cli", "gateway", "--config", str(config)]


def _hub_command(tmp_path: Path, port: int, upstream: int) -> list[str]:
    return [sys.executable, "-m", "otel_agents.messaging._cli", "hub", "--port", str(port)]


def _stop_server(
    collectors: dict[str, int], workdir: Path, command: Any, in_flight: bytes | None
) -> tuple[float, str]:
    """Start the server, send it a request, SIGTERM it: seconds to exit, and its stderr."""
    port = free_port()
    env = {
        "OTEL_SERVICE_NAME": "sigterm-test",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collectors['black-hole']}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "30000",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_AGENTS_SHUTDOWN_TIMEOUT": str(int(BOUND * 1000)),
        "OTEL_AGENTS_DRAIN_TIMEOUT": str(int(DRAIN * 1000)),
        "OTEL_AGENTS_MESSAGING_SECRET": "sigterm-test-token",  # the hub refuses to run open
    }
    process = subprocess.Popen(
        command(workdir, port, collectors["black-hole"]),
        env=scrubbed_env(env),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    pending: socket.socket | None = None
    try:
        wait_listening(port, process, timeout=SERVER_START_TIMEOUT)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            # One request, so there is a span to flush.
            client.sendall(b"GET /_gateway/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            client.recv(1024)
        pending = socket.create_connection(("127.0.0.1", port), timeout=5)
        if in_flight is not None:
            pending.sendall(in_flight)
            time.sleep(0.5)  # the gateway has the request and waits for the upstream
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=APP_TIMEOUT)
        return time.monotonic() - started, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
        if pending is not None:
            pending.close()


SERVERS = {
    "hub": (_hub_command, None),
    "gateway": (_gateway_command, None),
    # A request the upstream never answers (request_timeout is 60 s) is in flight.
    "gateway-request-in-flight": (
        _gateway_command,
        b"GET /v1/users/1 HTTP/1.1\r\nHost: x\r\n\r\n",
    ),
}


@pytest.fixture(scope="module")
def stopped_servers(started: Started) -> dict[str, tuple[float, str] | BaseException]:
    """Each server of ``SERVERS`` stopped by SIGTERM; a failure fails only its own test."""
    return outcomes(started.servers)


@pytest.mark.parametrize("server", list(SERVERS))
def test_sigterm_stops_a_server_within_the_bound_while_the_collector_hangs(
    stopped_servers: dict[str, tuple[float, str] | BaseException], server: str
) -> None:
    """Within OTEL_AGENTS_DRAIN_TIMEOUT + OTEL_AGENTS_SHUTDOWN_TIMEOUT, with a margin.

    The drain is set to 1 s rather than its default 3 s: a request still in flight then waits
    out the drain and is cancelled all the same, two seconds sooner.
    """
    outcome = stopped_servers[server]
    if isinstance(outcome, BaseException):
        raise outcome
    elapsed, stderr = outcome
    print(f"{server}: exited {elapsed:.2f}s after SIGTERM")
    assert elapsed < DRAIN + BOUND + MARGIN, stderr[-3000:]
    assert "otel-agents shutdown" in stderr, stderr[-3000:]


def test_shutdown_rejects_a_timeout_that_is_not_a_positive_number() -> None:
    probe = run_probe(
        after="""
for bad in (0, -1, float("nan"), "5", True):
    for stop in (otel_agents.shutdown, telemetry.shutdown):
        try:
            stop(bad)
        except otel_agents.ConfigurationError as exc:
            result["extra"].setdefault("errors", []).append(str(exc))
"""
    )
    errors = probe.extra["errors"]
    assert len(errors) == 10
    assert all(error.startswith("timeout=") for error in errors)
    assert "positive number of seconds" in errors[0]
