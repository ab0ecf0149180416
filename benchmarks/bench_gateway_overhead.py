"""What telemetry costs the gateway per request, in-process, with the upstream stubbed.

    .venv/bin/python benchmarks/bench_gateway_overhead.py [--calls 600] [--modes a,b]
    .venv/bin/python benchmarks/bench_gateway_overhead.py --profile otel   # cProfile

No sockets: the gateway's ASGI app (``APIGateway.app``) is called directly with a minimal
HTTP scope (what ``wrk`` sends: a Host header), a ``receive`` that hands over an empty body
and a ``send`` that drops the response; the pooled upstream client is replaced by a stub
that answers at once like the benchmark upstream of ``bench_gateway.py`` (a small JSON
body). What is left is the CPU the gateway itself spends per request: routing, headers,
history, and (when instrumented) the server telemetry plus our CLIENT span and metrics.

Modes (each builds its own gateway and providers):

* ``plain``: ``instrument=False``, no providers (the global no-op ones).
* ``otel``: as shipped: the lean server telemetry (``server_instrumentation = "lean"``),
  SDK ``TracerProvider`` with a ``BatchSpanProcessor`` and a ``MeterProvider`` with a
  periodic reader, default (trace-based) exemplars, exporters that drop everything.
* ``otel-all-metrics``: ``http_server_metrics = "all"``: ``OpenTelemetryMiddleware`` with
  ``http.server.active_requests`` and the body sizes too, as it records them on its own.
* ``otel-no-exemplars``: ``otel`` with ``exemplar_filter=AlwaysOffExemplarFilter()``
  (what ``OTEL_METRICS_EXEMPLAR_FILTER=always_off`` selects).
* ``otel-server-only``: ``otel`` with our own tracer and instruments made no-ops, to
  attribute the cost to the server telemetry versus our CLIENT span and metrics.
* ``otel-contrib``: ``server_instrumentation = "contrib"``: ``OpenTelemetryMiddleware``
  (recording only its duration) in place of the lean server telemetry.
* ``otel-sampled``: ``otel`` with ``ParentBased(TraceIdRatioBased(0.1))`` (what
  ``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` with ``OTEL_TRACES_SAMPLER_ARG=0.1``
  selects): a reference only, since every request must be traced here.

Each mode costs about a minute of callgrind per 600 calls.
Instruction counts come from valgrind's callgrind (``--run MODE CALLS``, see
``_compare.instructions_per_call``) and do not depend on the machine's other load; the
wall-clock numbers printed beside them do. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _compare import instructions_per_call
from _providers import discarding_providers

from otel_agents.gateway import APIGateway
from otel_agents.gateway._client import UpstreamResponse

MODES = (
    "plain",
    "otel",
    "otel-all-metrics",
    "otel-no-exemplars",
    "otel-server-only",
    "otel-contrib",
    "otel-sampled",
)
_BODY = b'{"id":"42","name":"Ada"}'
_UPSTREAM_HEADERS = [
    (b"date", b"Wed, 25 Nov 2026 16:00:00 GMT"),
    (b"server", b"uvicorn"),
    (b"content-length", b"%d" % len(_BODY)),
    (b"content-type", b"application/json"),
]
#: What ``wrk`` sends: a Host header and nothing else.
_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/v1/users/42",
    "raw_path": b"/v1/users/42",
    "query_string": b"",
    "root_path": "",
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


class StubClient:
    """Stands in for ``UpstreamClient``: answers every request at once, no I/O."""

    async def request(self, host: str, port: int, head: bytes, body: Any, **_: Any) -> Any:
        return UpstreamResponse(200, list(_UPSTREAM_HEADERS), _BODY)

    async def aclose(self) -> None:
        return None


def _providers(mode: str) -> tuple[Any, Any]:
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    sampler = ParentBased(TraceIdRatioBased(0.1)) if mode == "otel-sampled" else None
    # A long interval: a collection in the middle of a counted run would be noise.
    return discarding_providers(
        sampler=sampler,
        exemplars=mode != "otel-no-exemplars",
        export_interval_millis=60_000,
    )


def build(mode: str) -> Callable[[], Any]:
    """An ``async`` callable that sends one request through the gateway of ``mode``."""
    if mode not in MODES:
        raise SystemExit(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    tracer_provider = meter_provider = None
    if mode != "plain":
        tracer_provider, meter_provider = _providers(mode)
    gateway = APIGateway(
        {
            "health_check_interval": 60,
            "request_timeout": 10,
            "http_server_metrics": "all" if mode == "otel-all-metrics" else "stable",
            "server_instrumentation": "contrib" if mode == "otel-contrib" else "lean",
        },
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        instrument=mode != "plain",
    )
    gateway.register_service("users", "Users", "v1", "http://127.0.0.1:9", path_prefix="/users")
    gateway.proxy.client = StubClient()  # type: ignore[assignment]
    if mode == "otel-server-only":
        from opentelemetry import trace
        from opentelemetry.metrics import NoOpHistogram

        gateway.telemetry.tracer = trace.NoOpTracer()
        gateway.telemetry.upstream_duration = NoOpHistogram("noop")
    app = gateway.app
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: Any) -> None:
        return None

    host = (b"host", b"127.0.0.1:8000")

    async def one() -> None:
        scope = dict(_SCOPE)
        scope["headers"] = [host]
        await app(scope, receive, send)

    return one


def run(mode: str, calls: int) -> None:
    """Send ``calls`` requests through the gateway of ``mode`` (after one warm-up)."""
    one = build(mode)

    async def main() -> None:
        await one()
        for _ in range(calls):
            await one()

    asyncio.run(main())


def wall(mode: str, calls: int, rounds: int = 5) -> float:
    """Best per-request wall time over ``rounds`` rounds of ``calls`` requests."""
    one = build(mode)

    async def main() -> float:
        for _ in range(200):
            await one()
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                await one()
            best = min(best, (time.perf_counter() - start) / calls)
        return best

    return asyncio.run(main())


def profile(mode: str, calls: int) -> None:
    import cProfile
    import pstats

    one = build(mode)

    async def main() -> None:
        for _ in range(calls):
            await one()

    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(main())
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(35)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=600, help="requests per count")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--profile", choices=MODES, help="cProfile one mode and stop")
    parser.add_argument("--run", nargs=2, metavar=("MODE", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run(args.run[0], int(args.run[1]))
        return
    if args.profile:
        profile(args.profile, args.calls * 10)
        return
    script = str(Path(__file__).resolve())
    modes = args.modes.split(",")
    counts = {mode: instructions_per_call(script, mode, args.calls) for mode in modes}
    times = {mode: wall(mode, args.calls) for mode in modes}
    base = counts.get("plain")
    print(f"{'mode':<20}{'instr/request':>15}{'vs plain':>10}{'plain/this':>12}{'wall us':>10}")
    for mode in modes:
        count = counts[mode]
        shown = "n/a" if count is None else f"{count:,.0f}"
        ratio = "" if count is None or not base else f"{count / base:.2f}x"
        inverse = "" if count is None or not base else f"{base / count:.2f}"
        print(f"{mode:<20}{shown:>15}{ratio:>10}{inverse:>12}{times[mode] * 1e6:>10.1f}")
    print(
        f"(instructions: callgrind, {args.calls} requests minus set-up; wall: best of 5 "
        "rounds, noisy on a shared machine)"
    )


if __name__ == "__main__":
    main()
