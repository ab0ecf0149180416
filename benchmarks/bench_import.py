"""The import cost of the tracker, next to the OpenTelemetry SDK's own.

    .venv/bin/python benchmarks/bench_import.py [--runs 21]

Target (issue 15): ``import otel_agents`` plus a ``PerformanceTracker`` costs at most 1.3x
``import opentelemetry.sdk.metrics, opentelemetry.sdk.trace``, measured in the same run.
Each measurement is a fresh interpreter that times its own imports (interpreter start-up is
not counted); the two are interleaved, run after run, and the medians are compared, so a
busy machine slows both alike. Also printed: the optional dependencies the candidate loaded
(none is the point: tests/test_light_import.py asserts it without timing anything).
Benchmarks print; they never assert a wall-clock threshold.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

TARGET = 1.3
BASELINE = "import opentelemetry.sdk.metrics, opentelemetry.sdk.trace"
CANDIDATE = (
    "import otel_agents\n"
    "from otel_agents import PerformanceTracker\n"
    "PerformanceTracker({'snapshot_interval': 0})"
)
# Top-level packages of the extras: the candidate should load none of them.
HEAVY = (
    "starlette",
    "httpx",
    "uvicorn",
    "anyio",
    "grpc",
    "prometheus_client",
    "opentelemetry.exporter",
    "opentelemetry.instrumentation",
)
_TIMED = """
import time
_start = time.perf_counter()
{code}
_elapsed = time.perf_counter() - _start
import json, sys
print(json.dumps([_elapsed, sorted(sys.modules)]))
"""


def measure(code: str) -> tuple[float, list[str]]:
    """Seconds ``code`` takes in a fresh interpreter, and the modules loaded by then."""
    done = subprocess.run(
        [sys.executable, "-c", _TIMED.format(code=code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    elapsed, modules = json.loads(done.stdout.strip().splitlines()[-1])
    return float(elapsed), list(modules)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="interpreters per side (odd)")
    args = parser.parse_args()
    measure(BASELINE), measure(CANDIDATE)  # warm the file system cache and .pyc files
    baseline: list[float] = []
    candidate: list[float] = []
    loaded: list[str] = []
    for _ in range(args.runs):
        baseline.append(measure(BASELINE)[0])
        seconds, modules = measure(CANDIDATE)
        candidate.append(seconds)
        loaded = [h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in modules)]
    base, cand = statistics.median(baseline), statistics.median(candidate)
    ratio = cand / base
    print(f"{'OpenTelemetry SDK metrics + trace':<44} median {base * 1e3:7.1f} ms")
    print(f"{'import otel_agents + PerformanceTracker':<44} median {cand * 1e3:7.1f} ms")
    verdict = "ok" if ratio <= TARGET else "over target"
    print(f"ratio {ratio:.2f}x (target <= {TARGET}x): {verdict}; {args.runs} runs each")
    print(f"optional dependencies loaded: {', '.join(loaded) or 'none'}")


if __name__ == "__main__":
    main()
