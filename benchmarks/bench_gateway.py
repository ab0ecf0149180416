"""Gateway throughput and CPU: a naive httpx gateway, and ours with and without telemetry,
measured in the same run on 127.0.0.1 with ``wrk``.

    .venv/bin/python benchmarks/bench_gateway.py [--duration 5] [--rounds 3] [--connections 32]
    .venv/bin/python benchmarks/bench_gateway.py --instructions 300    # callgrind counts

Servers (each its own process: uvicorn, one worker; httptools/uvloop when installed):

* ``naive``: Starlette + one shared ``httpx.AsyncClient``, what people write first;
  ``naive-otel`` adds the stock instrumentation, ``OpenTelemetryMiddleware`` and
  ``opentelemetry-instrumentation-httpx`` (benchmark-only dependency:
  ``pip install opentelemetry-instrumentation-httpx``), on providers that drop what they
  export (``_providers.discarding_providers``).
* ``ours-plain``: our gateway with ``instrument=False``.
* ``ours-otel``: as shipped (lean server telemetry, our CLIENT span and metrics), on the
  same dropping providers; ``ours-contrib`` the same with ``server_instrumentation =
  "contrib"`` (``OpenTelemetryMiddleware``).
* ``ours-otlp``: as shipped, exporting every span and metric over OTLP/HTTP (protobuf,
  batch span processor, 5 s metric reader) to ``receiver``, a local process that accepts
  every export, as a Collector would.

Each measurement reads the server process's CPU time (user + system, ``/proc``) before and
after ``wrk``: CPU microseconds per request do not depend on the load generator sharing the
machine. The report gives medians over interleaved rounds, the ratio of medians, each
round's ratio, and telemetry CPU per request (ours minus plain, against the stock
instrumentation minus the naive gateway). ``--instructions N`` counts served
instructions per request under valgrind's callgrind instead (plain, lean, contrib).

``wrk`` is required (``apt-get install -y wrk``): without it the benchmark stops rather
than measure with an in-process load generator that competes for the same cores. Prints;
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLES = (
    "upstream",
    "receiver",
    "naive",
    "naive-otel",
    "ours-plain",
    "ours-otel",
    "ours-contrib",
    "ours-otlp",
)
#: Roles under load (the receiver only takes the OTLP export of ``ours-otlp``).
MEASURED = tuple(r for r in ROLES if r != "receiver")
#: The metric export interval of the gateways on dropping providers, in ms (default 5000).
_INTERVAL_VARIABLE = "BENCH_METRIC_EXPORT_INTERVAL_MS"
#: Roles counted under callgrind by ``--instructions``.
COUNTED = ("ours-plain", "ours-otel", "ours-contrib")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the servers ---------------------------------------------------------------------------
def upstream_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def user(request: Any) -> JSONResponse:
        return JSONResponse({"id": request.path_params["user_id"], "name": "Ada"})

    return Starlette(routes=[Route("/users/{user_id}", user)])


def receiver_app() -> Any:
    """A local OTLP/HTTP receiver: reads each export request whole and answers 200 with an
    empty protobuf response, as a Collector does when it accepts everything."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-protobuf")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    return app


def naive_app(upstream: str, instrument: bool = False) -> Any:
    """What people write first: Starlette + one shared httpx.AsyncClient; ``instrument``
    adds the stock instrumentation (``OpenTelemetryMiddleware`` and
    ``opentelemetry-instrumentation-httpx``) on providers that drop what they export."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    client = httpx.AsyncClient(base_url=upstream)

    async def forward(request: Request) -> Response:
        path = "/" + request.path_params["path"]
        reply = await client.request(
            request.method,
            path,
            params=request.query_params,
            content=await request.body(),
            headers={k: v for k, v in request.headers.items() if k != "host"},
        )
        return Response(
            reply.content, reply.status_code, media_type=reply.headers.get("content-type")
        )

    app: Any = Starlette(routes=[Route("/v1/{path:path}", forward, methods=["GET", "POST"])])
    if instrument:
        from _providers import discarding_providers
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        tracer_provider, meter_provider = discarding_providers()
        HTTPXClientInstrumentor.instrument_client(
            client, tracer_provider=tracer_provider, meter_provider=meter_provider
        )
        app = OpenTelemetryMiddleware(
            app, tracer_provider=tracer_provider, meter_provider=meter_provider
        )
    return app


def otlp_providers(endpoint: str) -> tuple[Any, Any]:
    """Providers exporting over OTLP/HTTP (protobuf) to ``endpoint``, batched as in
    production: every span and metric is encoded and sent, in the gateway's process."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"), export_interval_millis=5000
    )
    return tracer_provider, MeterProvider(metric_readers=[reader])


def ours_app(
    upstream: str, role: str, receiver: str = "", providers: tuple[Any, Any] | None = None
) -> Any:
    """Our gateway: without telemetry, instrumented (lean or contrib server telemetry) on
    providers that drop what they export, or lean with real OTLP export to ``receiver``
    (or on the given ``providers``: ``_sdk_floor`` captures what the gateway emits)."""
    from otel_agents.gateway import APIGateway

    tracer_provider = meter_provider = None
    if providers is not None:
        tracer_provider, meter_provider = providers
    elif role == "ours-otlp":
        tracer_provider, meter_provider = otlp_providers(receiver)
    elif role != "ours-plain":
        from _providers import discarding_providers

        tracer_provider, meter_provider = discarding_providers(
            export_interval_millis=float(os.environ.get(_INTERVAL_VARIABLE, 5000))
        )
    gateway = APIGateway(
        {
            "health_check_interval": 60,
            "request_timeout": 10,
            "server_instrumentation": "contrib" if role == "ours-contrib" else "lean",
        },
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        instrument=role != "ours-plain",
    )
    gateway.register_service("users", "Users", "v1", upstream, path_prefix="/users")
    return gateway.app


def serve(role: str, port: int, upstream_port: int, receiver_port: int = 0) -> None:
    import uvicorn

    upstream = f"http://127.0.0.1:{upstream_port}"
    if role == "upstream":
        app = upstream_app()
    elif role == "receiver":
        app = receiver_app()
    elif role.startswith("naive"):
        app = naive_app(upstream, instrument=role == "naive-otel")
    else:
        app = ours_app(upstream, role, f"http://127.0.0.1:{receiver_port}")
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop=os.environ.get("BENCH_LOOP", "auto"),  # uvloop when installed
        http=os.environ.get("BENCH_HTTP", "auto"),  # httptools when installed
    )


# -- the load ------------------------------------------------------------------------------
@dataclass
class Run:
    """One wrk measurement of one server, with the CPU its process spent meanwhile."""

    rps: float
    p99_ms: float
    requests: int
    cpu_seconds: float

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds * 1e6 / self.requests if self.requests else float("nan")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its threads, from ``/proc``."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, duration: int, connections: int, pid: int) -> Run:
    before = process_cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    cpu = process_cpu_seconds(pid) - before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors or "Socket errors" in out:
        print(
            f"WARNING {url}: {errors.group(0) if errors else ''} {out[out.find('Socket') :][:80]}"
        )
    latency = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    return Run(rps, latency, requests, cpu)


def wait_ready(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


# -- CPU instructions per served request ---------------------------------------------------
def _callgrind_total(err: str, what: str) -> int:
    found = re.search(r"Collected : (\d+)", err)
    if found is None:
        raise RuntimeError(f"callgrind printed no total for {what}:\n{err[-2000:]}")
    return int(found.group(1))


#: The environment of every process counted under callgrind: a fixed hash seed (string
#: hashes, and so set order and dict layouts, otherwise differ between processes) and no
#: periodic metric collection inside the count (under valgrind a request takes ~50 times as
#: long, so a collection every 5 s would add to each request ~50 times what it adds at full
#: speed, and more on a busier machine; the one at exit is in both counts and cancels out).
_COUNTED_ENV = {"OTEL_SDK_DISABLED": "false", "PYTHONHASHSEED": "0", _INTERVAL_VARIABLE: "3600000"}


def _floor_count(script: str, count: int) -> int:
    """Instructions of ``_sdk_floor.py`` replaying the captured telemetry ``count`` times."""
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            str(Path(__file__).with_name("_sdk_floor.py")),
            script,
            str(count),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | _COUNTED_ENV,
        check=True,
    )
    return _callgrind_total(proc.stderr, "the SDK floor")


def _served_count(role: str, upstream_port: int, requests: int) -> int:
    """Instructions the ``role`` gateway process executes to start, serve ``requests``
    sequential GETs over one keep-alive connection, and stop (valgrind callgrind)."""
    import http.client

    port = free_port()
    proc = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--serve",
            role,
            "--port",
            str(port),
            "--upstream-port",
            str(upstream_port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | _COUNTED_ENV,
    )
    try:
        wait_ready(port, timeout=300)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(requests):
            connection.request("GET", "/v1/users/42")
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{role} answered {response.status}")
        connection.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=300)
    return _callgrind_total(err, role)


def served_instructions(requests: int) -> None:
    """Instructions per served request for our gateway without telemetry, with the lean
    server telemetry (shipped) and with ``OpenTelemetryMiddleware`` (contrib), and the
    SDK's floor under the lean telemetry (``_sdk_floor``: the same spans and histograms
    made with the fewest public SDK calls).

    The gateway runs under callgrind (the upstream does not); the count for ``requests``
    is subtracted from the count for ``3 * requests``, which removes start-up and shutdown.
    Unlike req/s, these counts do not move with the machine's other load.
    """
    from _sdk_floor import capture

    if shutil.which("valgrind") is None:
        sys.exit("valgrind is required for --instructions (apt-get install -y valgrind)")
    upstream_port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, __file__, "--serve", "upstream", "--port", str(upstream_port)]
    )
    counts: dict[str, float] = {}
    try:
        wait_ready(upstream_port)
        for role in COUNTED:
            low = _served_count(role, upstream_port, requests)
            high = _served_count(role, upstream_port, 3 * requests)
            counts[role] = (high - low) / (2 * requests)
        with tempfile.TemporaryDirectory() as directory:
            script = Path(directory) / "telemetry.json"
            script.write_text(json.dumps(capture(upstream_port)))
            low = _floor_count(str(script), requests)
            high = _floor_count(str(script), 3 * requests)
            floor = (high - low) / (2 * requests)
    finally:
        upstream.send_signal(signal.SIGTERM)
        upstream.wait(timeout=10)
    plain = counts["ours-plain"]
    lean = counts["ours-otel"] - plain
    print(f"{'gateway (served, callgrind)':<32}{'instr/request':>15}{'telemetry':>12}")
    for role, count in counts.items():
        print(f"{role:<32}{count:>15,.0f}{count - plain:>12,.0f}")
    print(f"{'SDK floor of the same telemetry':<32}{'':>15}{floor:>12,.0f}")
    print(f"telemetry (lean) = {lean:,.0f} instructions per request (target <= 700,000)")
    print(
        f"  of which the SDK floor {floor:,.0f} ({floor / lean:.0%}), otel-agents' own "
        f"{lean - floor:,.0f}"
    )
    print(
        f"drop-export ratio by instructions: lean {plain / (plain + lean):.3f}x; "
        f"ceiling with nothing but the SDK floor {plain / (plain + floor):.3f}x "
        "(req/s target >= 0.45)"
    )


LABELS = {
    "upstream": "upstream direct",
    "naive": "naive httpx gateway",
    "naive-otel": "naive + stock instrumentation",
    "ours-plain": "otel-agents, no telemetry",
    "ours-otel": "otel-agents (lean), drop export",
    "ours-contrib": "otel-agents (contrib), drop exp.",
    "ours-otlp": "otel-agents (lean), OTLP export",
}


def _ratio_line(label: str, rounds: dict[str, list[Run]], top: str, bottom: str) -> str:
    """The ratio of the median req/s of two servers, and the ratio in each round."""
    median = statistics.median(r.rps for r in rounds[top]) / statistics.median(
        r.rps for r in rounds[bottom]
    )
    pairs = zip(rounds[top], rounds[bottom], strict=True)
    each = ", ".join(f"{a.rps / b.rps:.2f}" for a, b in pairs)
    return f"{label:<44}{median:>6.2f}x  (rounds: {each})"


def report(rounds: dict[str, list[Run]], args: argparse.Namespace) -> None:
    print(f"{'server':<36}{'req/s':>9}{'p99 ms':>9}{'CPU us/req':>12}  req/s per round")
    cpu: dict[str, float] = {}
    for role in MEASURED:
        runs = rounds[role]
        cpu[role] = statistics.median(r.cpu_us_per_request for r in runs)
        print(
            f"{LABELS[role]:<36}{statistics.median(r.rps for r in runs):>9.0f}"
            f"{statistics.median(r.p99_ms for r in runs):>9.2f}{cpu[role]:>12.0f}  "
            + " ".join(f"{r.rps:.0f}" for r in runs)
        )
    print(
        f"(medians of {args.rounds} interleaved rounds of {args.duration}s, "
        f"{args.connections} connections; CPU: the server process, user + system)"
    )
    print(_ratio_line("lean, drop export / no telemetry", rounds, "ours-otel", "ours-plain"))
    print("  target >= 0.45")
    print(_ratio_line("contrib, drop export / no telemetry", rounds, "ours-contrib", "ours-plain"))
    print(_ratio_line("lean, OTLP export / naive", rounds, "ours-otlp", "naive"))
    print("  target >= 3")
    print(_ratio_line("lean, drop export / naive", rounds, "ours-otel", "naive"))
    ours = cpu["ours-otel"] - cpu["ours-plain"]
    stock = cpu["naive-otel"] - cpu["naive"]
    contrib = cpu["ours-contrib"] - cpu["ours-plain"]
    otlp = cpu["ours-otlp"] - cpu["ours-plain"]
    print(f"telemetry CPU per request: ours (lean) {ours:.0f} us, ours (contrib) {contrib:.0f} us,")
    print(f"  ours (lean, OTLP export) {otlp:.0f} us, stock on the naive gateway {stock:.0f} us")
    print(f"  OTLP export alone (encoding and sending, in process) {otlp - ours:.0f} us")
    print(f"  ours / stock = {ours / stock:.2f} (target <= 0.25)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve", choices=ROLES)
    parser.add_argument("--port", type=int)
    parser.add_argument("--upstream-port", type=int, default=0)
    parser.add_argument("--receiver-port", type=int, default=0)
    parser.add_argument(
        "--instructions",
        type=int,
        metavar="N",
        help="instead of wrk: count CPU instructions per served request (N and 3N requests)",
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.upstream_port, args.receiver_port)
        return
    if args.instructions:
        served_instructions(args.instructions)
        return
    if shutil.which("wrk") is None:
        # An in-process load generator would compete with the servers for the same
        # cores and measure itself as much as them: no numbers rather than wrong ones.
        sys.exit("wrk is required (apt-get install -y wrk); see the module docstring")
    ports = {role: free_port() for role in ROLES}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    rounds: dict[str, list[Run]] = {role: [] for role in MEASURED}
    try:
        for role in ROLES:
            cmd = [
                sys.executable,
                __file__,
                "--serve",
                role,
                "--port",
                str(ports[role]),
                "--upstream-port",
                str(ports["upstream"]),
                "--receiver-port",
                str(ports["receiver"]),
            ]
            procs[role] = subprocess.Popen(cmd, env=os.environ | {"OTEL_SDK_DISABLED": "false"})
            wait_ready(ports[role])
        paths = {role: "/users/42" if role == "upstream" else "/v1/users/42" for role in ROLES}

        def measure(role: str, duration: int) -> Run:
            url = f"http://127.0.0.1:{ports[role]}{paths[role]}"
            return run_wrk(url, duration, args.connections, procs[role].pid)

        for role in MEASURED:
            measure(role, 1)  # warm-up
        # Interleaved rounds, median per server: other load on the machine drifts over
        # time, and interleaving spreads it over every server alike.
        for _ in range(max(1, args.rounds)):
            for role in MEASURED:
                rounds[role].append(measure(role, args.duration))
    finally:
        # Gateways first, so that ours-otlp flushes to a receiver that still listens.
        for proc in reversed(procs.values()):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    report(rounds, args)


if __name__ == "__main__":
    main()
