"""``otel-agents demo``: a small agent swarm that exercises every part of the package.

Three agents (a planner, a researcher and a monitor) work in threads for ``--duration``
seconds: their steps are profiled (spans and ``agent.profile.duration``), their response
times, CPU and request counts go through the tracker, and the process reports system metrics.
Telemetry leaves through whatever the ``OTEL_*`` variables configure; with none set, the demo
keeps everything in process and prints what it saw.
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import otel_agents
from otel_agents.profiler import PerformanceProfiler
from otel_agents.tracker import MetricType, PerformanceTracker

__all__ = ["register", "run"]

_EXPORTER_VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


@dataclass(frozen=True)
class DemoAgent:
    agent_id: str
    name: str
    operation: str
    mean_seconds: float
    failure_rate: float


AGENTS = (
    DemoAgent("planner", "Task Planner", "plan", 0.030, 0.02),
    DemoAgent("researcher", "Web Researcher", "research", 0.060, 0.05),
    DemoAgent("monitor", "System Monitor", "monitor", 0.010, 0.0),
)


class StepFailed(RuntimeError):
    """A simulated failure inside an agent's step."""


def _work(
    agent: DemoAgent,
    tracker: PerformanceTracker,
    profiler: PerformanceProfiler,
    stop: threading.Event,
    seed: int,
) -> None:
    rng = random.Random(seed)
    steps = 0
    while not stop.is_set():
        started = time.perf_counter()
        try:
            with profiler.profile(f"{agent.agent_id}.step", {"operation": agent.operation}):
                stop.wait(rng.expovariate(1 / agent.mean_seconds))
                if rng.random() < agent.failure_rate:
                    raise StepFailed(f"{agent.agent_id} step {steps} failed")
        except StepFailed:
            tracker.record_metric(MetricType.ERROR_COUNT, 1, agent_id=agent.agent_id)
        elapsed = time.perf_counter() - started
        context = {"operation": agent.operation, "step": steps}
        tracker.record_metric(
            MetricType.RESPONSE_TIME, elapsed, agent_id=agent.agent_id, context=context
        )
        tracker.record_metric(MetricType.REQUEST_COUNT, 1, agent_id=agent.agent_id)
        tracker.record_metric(
            MetricType.CPU_USAGE, rng.uniform(5, 60), agent_id=agent.agent_id, context=context
        )
        steps += 1


def run(duration: float, export: str | None = None, *, quiet: bool = False) -> dict[str, Any]:
    """Run the swarm for ``duration`` seconds and return what the in-process views saw."""
    defaults: dict[str, Any] = {}
    if not any(os.environ.get(name) for name in _EXPORTER_VARIABLES):
        defaults = {"traces_exporter": "none", "metrics_exporter": "none", "logs_exporter": "none"}
        if not quiet:
            print(
                "No OTEL_* exporter is set: telemetry stays in this process. "
                "Set OTEL_EXPORTER_OTLP_ENDPOINT (see README) to send it to a collector."
            )
    otel_agents.configure(
        service_name=os.environ.get("OTEL_SERVICE_NAME", "otel-agents-demo"), **defaults
    )
    tracker = PerformanceTracker({"snapshot_interval": max(duration / 2, 0.1)})
    profiler = PerformanceProfiler({"snapshot_interval": 0})
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_work, args=(agent, tracker, profiler, stop, index), name=agent.agent_id
        )
        for index, agent in enumerate(AGENTS)
    ]
    for thread in threads:
        thread.start()
    try:
        stop.wait(duration)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        tracker.stop()
    report: dict[str, Any] = {
        "agents": {a.agent_id: tracker.get_agent_performance_summary(a.agent_id) for a in AGENTS},
        "profiles": profiler.get_profiling_summary(),
        "system": profiler.get_system_metrics(),
    }
    if export is not None:
        path = tracker.export_metrics(export)
        report["export"] = str(path)
    otel_agents.shutdown()
    if not quiet:
        _print_report(report)
    return report


def _print_report(report: dict[str, Any]) -> None:
    print()
    print(f"{'agent':<12}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for agent_id, summary in report["agents"].items():
        metrics = summary["metrics"]
        latency = metrics.get("response_time", {})
        errors = metrics.get("error_count", {}).get("count", 0)
        print(
            f"{agent_id:<12}{latency.get('count', 0):>10}{errors:>8}"
            f"{latency.get('p50', 0) * 1000:>9.1f}{latency.get('p95', 0) * 1000:>9.1f}"
            f"{latency.get('p99', 0) * 1000:>9.1f}"
        )
    if "export" in report:
        print(f"\nmetrics exported to {report['export']}")


def _handle(args: argparse.Namespace) -> int:
    run(args.duration, args.export)
    return 0


def register(subparsers: Any) -> None:
    """Add ``demo`` to the ``otel-agents`` command line."""
    parser = subparsers.add_parser("demo", help="run a small agent swarm and report on it")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to run (10)")
    parser.add_argument("--export", metavar="FILE", help="write the tracked metrics as JSON")
    parser.set_defaults(handler=_handle)
