"""Gateway throughput: upstream direct, a naive httpx gateway, and ours with and without
OpenTelemetry, measured in the same run on 127.0.0.1 with a bounded load generator.

    .venv/bin/python benchmarks/bench_gateway.py [--duration 3] [--rounds 3] [--connections 32]

"Instrumented" is the gateway as shipped (``OpenTelemetryMiddleware`` recording only its
stable ``http.server.request.duration``); "all server metrics" sets
``http_server_metrics = "all"`` (the middleware's Development-status metrics too, as it
records them on its own); "tuned" is the shipped gateway with the provider setting
docs/gateway.md suggests, ``OTEL_METRICS_EXEMPLAR_FILTER=always_off`` (here
``AlwaysOffExemplarFilter()``). "One empty span" is a reference, not a candidate: the
gateway without telemetry inside one SDK span per request with no attributes and no
metrics, the least any per-request tracing on the Python SDK can cost. "Lean
instrumentation" is another reference: in place of ``OpenTelemetryMiddleware`` (which the
issue requires), a hand-written wrapper that starts one SERVER span per request with the
attributes the middleware collects and records ``http.server.request.duration``; our own
CLIENT span and metrics stay on. It is what an instrumentation of our own could cost.
"Sampled 10%" is the shipped gateway with ``ParentBased(TraceIdRatioBased(0.1))``
(``OTEL_TRACES_SAMPLER=parentbased_traceidratio``, ``OTEL_TRACES_SAMPLER_ARG=0.1``):
metrics for every request, spans for a tenth.

Each server runs in its own process (uvicorn, one worker; httptools/uvloop when installed).
Load comes from Debian's ``wrk`` when installed (``apt-get install -y wrk``), else from a
bounded asyncio client. Prints req/s, p99 and the ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any

ROLES = (
    "upstream",
    "naive",
    "ours-plain",
    "ours-otel",
    "ours-otel-all",
    "ours-tuned",
    "ours-one-span",
    "ours-lean",
    "ours-sampled",
)
OURS = ROLES[2:]


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


def naive_app(upstream: str) -> Any:
    """What people write first: Starlette + one shared httpx.AsyncClient."""
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

    return Starlette(routes=[Route("/v1/{path:path}", forward, methods=["GET", "POST"])])


def ours_app(
    upstream: str,
    instrument: bool,
    *,
    tuned: bool = False,
    all_metrics: bool = False,
    sampled: bool = False,
) -> Any:
    """Our gateway; ``tuned`` turns exemplars off, ``all_metrics`` records every middleware
    metric."""
    from otel_agents.gateway import APIGateway

    tracer_provider = meter_provider = None
    if instrument:
        from _providers import discarding_providers
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        sampler = ParentBased(TraceIdRatioBased(0.1)) if sampled else None
        tracer_provider, meter_provider = discarding_providers(exemplars=not tuned, sampler=sampler)
    gateway = APIGateway(
        {
            "health_check_interval": 60,
            "request_timeout": 10,
            "http_server_metrics": "all" if all_metrics else "stable",
        },
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        instrument=instrument,
    )
    gateway.register_service("users", "Users", "v1", upstream, path_prefix="/users")
    return gateway.app


def lean_app(upstream: str) -> Any:
    """Our gateway's telemetry with a minimal SERVER span and duration in place of the
    middleware (a reference: the issue requires ``OpenTelemetryMiddleware``)."""
    import time

    from _providers import discarding_providers
    from opentelemetry import trace
    from opentelemetry.instrumentation._semconv import _StabilityMode
    from opentelemetry.instrumentation.asgi import collect_request_attributes
    from opentelemetry.semconv.attributes import network_attributes, url_attributes
    from opentelemetry.trace import SpanKind

    from otel_agents import semconv
    from otel_agents.gateway import APIGateway

    tracer_provider, meter_provider = discarding_providers()
    gateway = APIGateway(
        {"health_check_interval": 60, "request_timeout": 10},
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        instrument=False,  # our CLIENT span and metrics stay on: the providers are given
    )
    gateway.register_service("users", "Users", "v1", upstream, path_prefix="/users")
    inner = gateway.app
    tracer = tracer_provider.get_tracer("lean")
    duration = semconv.create_instrument(
        meter_provider.get_meter("lean"), semconv.HTTP_SERVER_REQUEST_DURATION
    )
    kept = (
        url_attributes.URL_SCHEME,
        network_attributes.NETWORK_PROTOCOL_VERSION,
        semconv.HTTP_REQUEST_METHOD,
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await inner(scope, receive, send)
        start = time.perf_counter()
        attributes = collect_request_attributes(scope, _StabilityMode.HTTP)
        match = gateway.pipeline.match(scope)
        route = match.template if match is not None else None
        if route:
            attributes[semconv.HTTP_ROUTE] = route
        span = tracer.start_span(
            f"{scope['method']} {route}" if route else scope["method"],
            kind=SpanKind.SERVER,
            attributes=attributes,
        )
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            with trace.use_span(span, end_on_exit=True):
                await inner(scope, receive, send_status)
                span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
        finally:
            metric = {key: attributes[key] for key in kept if key in attributes}
            metric[semconv.HTTP_RESPONSE_STATUS_CODE] = status
            if route:
                metric[semconv.HTTP_ROUTE] = route
            duration.record(time.perf_counter() - start, metric)

    return app


def one_span_app(upstream: str) -> Any:
    """Our gateway without telemetry, inside one empty SDK span per request (a floor)."""
    from _providers import discarding_providers

    tracer = discarding_providers()[0].get_tracer("floor")
    inner = ours_app(upstream, False)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await inner(scope, receive, send)
        span = tracer.start_span("request")
        try:
            await inner(scope, receive, send)
        finally:
            span.end()

    return app


def serve(role: str, port: int, upstream_port: int) -> None:
    import uvicorn

    upstream = f"http://127.0.0.1:{upstream_port}"
    app = {
        "upstream": upstream_app,
        "naive": lambda: naive_app(upstream),
        "ours-plain": lambda: ours_app(upstream, False),
        "ours-otel": lambda: ours_app(upstream, True),
        "ours-otel-all": lambda: ours_app(upstream, True, all_metrics=True),
        "ours-tuned": lambda: ours_app(upstream, True, tuned=True),
        "ours-one-span": lambda: one_span_app(upstream),
        "ours-lean": lambda: lean_app(upstream),
        "ours-sampled": lambda: ours_app(upstream, True, sampled=True),
    }[role]()
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
def run_wrk(url: str, duration: int, connections: int) -> tuple[float, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors or "Socket errors" in out:
        print(
            f"WARNING {url}: {errors.group(0) if errors else ''} {out[out.find('Socket') :][:80]}"
        )
    return rps, float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")  # type: ignore[union-attr]


async def _async_load(
    host: str, port: int, path: str, duration: float, connections: int
) -> tuple[float, float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + duration
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline and len(latencies) < 2_000_000:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(len(latencies) * 0.99)] * 1000


def measure(port: int, path: str, duration: int, connections: int) -> tuple[float, float]:
    if shutil.which("wrk"):
        return run_wrk(f"http://127.0.0.1:{port}{path}", duration, connections)
    return asyncio.run(_async_load("127.0.0.1", port, path, duration, connections))


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
        env=os.environ | {"OTEL_SDK_DISABLED": "false"},
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
    found = re.search(r"Collected : (\d+)", err)
    if found is None:
        raise RuntimeError(f"callgrind printed no total for {role}:\n{err[-2000:]}")
    return int(found.group(1))


def served_instructions(requests: int) -> None:
    """Instructions per served request for our gateway with and without telemetry.

    The gateway runs under callgrind (the upstream does not); the count for ``requests``
    is subtracted from the count for ``3 * requests``, which removes start-up and shutdown.
    Unlike req/s, these counts do not move with the machine's other load.
    """
    if shutil.which("valgrind") is None:
        print("(valgrind not installed: served instruction counts skipped)")
        return
    upstream_port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, __file__, "--serve", "upstream", "--port", str(upstream_port)]
    )
    counts: dict[str, float] = {}
    try:
        wait_ready(upstream_port)
        for role in OURS:
            low = _served_count(role, upstream_port, requests)
            high = _served_count(role, upstream_port, 3 * requests)
            counts[role] = (high - low) / (2 * requests)
    finally:
        upstream.send_signal(signal.SIGTERM)
        upstream.wait(timeout=10)
    plain = counts["ours-plain"]
    print(f"{'gateway (served, callgrind)':<32}{'instr/request':>15}{'plain/this':>12}")
    for role, count in counts.items():
        print(f"{role:<32}{count:>15,.0f}{plain / count:>12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=3, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve", choices=ROLES)
    parser.add_argument("--port", type=int)
    parser.add_argument("--upstream-port", type=int, default=0)
    parser.add_argument(
        "--instructions",
        type=int,
        metavar="N",
        help="instead of wrk: count CPU instructions per served request (N and 3N requests)",
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.upstream_port)
        return
    if args.instructions:
        served_instructions(args.instructions)
        return
    ports = {role: free_port() for role in ROLES}
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, tuple[float, float]] = {}
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
            ]
            procs.append(subprocess.Popen(cmd, env=os.environ | {"OTEL_SDK_DISABLED": "false"}))
            wait_ready(ports[role])
        paths = {role: "/users/42" if role == "upstream" else "/v1/users/42" for role in ROLES}
        for role in ROLES:
            measure(ports[role], paths[role], 1, args.connections)  # warm-up
        # Interleaved rounds, median per server: other load on the machine drifts over
        # time, and interleaving spreads it over every server alike.
        rounds: dict[str, list[tuple[float, float]]] = {role: [] for role in ROLES}
        for _ in range(max(1, args.rounds)):
            for role in ROLES:
                rounds[role].append(
                    measure(ports[role], paths[role], args.duration, args.connections)
                )
        for role in ROLES:
            ordered = sorted(rounds[role])
            results[role] = ordered[len(ordered) // 2]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"{'server':<34}{'req/s':>10}{'p99 ms':>10}")
    labels = {
        "upstream": "upstream direct",
        "naive": "naive httpx gateway",
        "ours-plain": "otel-agents, no telemetry",
        "ours-otel": "otel-agents, instrumented",
        "ours-otel-all": "instrumented, all server metrics",
        "ours-tuned": "instrumented, exemplars off",
        "ours-one-span": "reference: one empty span",
        "ours-lean": "reference: lean instrumentation",
        "ours-sampled": "instrumented, sampled 10%",
    }
    for role in ROLES:
        rps, p99 = results[role]
        print(f"{labels[role]:<34}{rps:>10.0f}{p99:>10.2f}")
    print(
        f"(median of {args.rounds} interleaved rounds of {args.duration}s, "
        f"{args.connections} connections)"
    )
    naive = results["naive"][0]
    print(f"instrumented / naive      = {results['ours-otel'][0] / naive:.2f}x (target >= 3)")
    print(
        "instrumented / no telemetry = "
        f"{results['ours-otel'][0] / results['ours-plain'][0]:.2f} (target >= 0.85)"
    )
    for role in ("ours-otel-all", "ours-tuned", "ours-sampled", "ours-one-span", "ours-lean"):
        print(f"{labels[role]} / no telemetry = {results[role][0] / results['ours-plain'][0]:.2f}")


if __name__ == "__main__":
    main()
