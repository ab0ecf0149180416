"""``otel-agents demo`` as a command: run the swarm for a while, print what it saw, export.

Split from :mod:`otel_agents._demo`, which is the scenario itself (the agents, what each one
does and records, the :class:`~otel_agents._demo.Swarm` that starts and stops them): this
module is how a person runs it from the command line, the ``demo`` subcommand's arguments,
the checks made before the swarm starts (no exporter configured, a missing export key, an
``--export`` folder that cannot be made or written), the printed report and the exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from otel_agents._demo import AGENTS, EXPORTER_VARIABLES, Swarm, export_folder
from otel_agents._encryption import encrypt_bytes
from otel_agents._errors import ConfigurationError, ExportError, MessagingError

__all__ = ["register", "run"]


def run(
    duration: float,
    export: str | None = None,
    *,
    quiet: bool = False,
    encrypt: bool = False,
    nats: str | None = None,
) -> dict[str, Any]:
    """Run the swarm for ``duration`` seconds and return what the in-process views saw."""
    if not quiet and not any(os.environ.get(name) for name in EXPORTER_VARIABLES):
        print(
            "No OTEL_* exporter is set: telemetry stays in this process. "
            "Set OTEL_EXPORTER_OTLP_ENDPOINT (see README) to send it to a collector."
        )
    if encrypt:  # a missing or bad key is an error before the swarm starts
        encrypt_bytes(b"")
    if export is not None:  # so is a folder that cannot hold the files
        export_folder(export, name="--export")
    if not quiet:
        print(
            f"Running {len(AGENTS)} agents ({', '.join(a.agent_id for a in AGENTS)}) "
            f"for {duration:g} s...",
            flush=True,
        )
    with Swarm(transport=nats) as swarm:
        swarm.run_for(duration)
        report = swarm.report()
        if export is not None:  # while running: the dashboard still reads live telemetry
            report["export"] = swarm.export(export, encrypt=encrypt)
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
    print(f"\nmessages exchanged: {report['messages']}")
    print(f"gateway requests: {report['gateway_requests']:g}")
    print(f"system health score: {report['health_score']} / 100")
    penalties = report.get("health", {}).get("penalties", {})
    if penalties:
        taken = ", ".join(f"{part} -{points:.1f}" for part, points in penalties.items())
        print(f"  = 100 minus points taken off for {taken}")
    print(
        "  (resources: CPU and memory above 50 %; alerts: the active ones; availability:\n"
        "  agents offline; errors: the error rate. The formula: docs/dashboard.md)"
    )
    failing = " and ".join(
        f"the {a.agent_id} {a.failure_rate:.0%}" for a in AGENTS if a.failure_rate > 0
    )
    print(
        f"\nThe errors are simulated: {failing} of their steps fail on purpose,\n"
        "so that error metrics, alerts and the health score have something to show."
    )
    from otel_agents._demo_ai import print_report as print_ai_report  # needs httpx (gateway)

    print_ai_report(report["ai"])
    for component, path in report.get("export", {}).items():
        print(f"{component} exported to {path}")
    print(
        "\nNext: `otel-agents dashboard` runs this swarm with a live dashboard in the\n"
        "terminal; `docker compose up` runs it with Grafana, Prometheus and Jaeger (README)."
    )


def _handle(args: argparse.Namespace) -> int:
    try:
        run(args.duration, args.export, encrypt=args.encrypt, nats=args.nats)
    except (ConfigurationError, MessagingError, ExportError) as exc:
        print(f"otel-agents demo: {exc}", file=sys.stderr)
        return 2
    return 0


def register(subparsers: Any) -> None:
    """Add ``demo`` to the ``otel-agents`` command line."""
    parser = subparsers.add_parser("demo", help="run a small agent swarm and report on it")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to run (10)")
    parser.add_argument(
        "--export",
        metavar="DIR",
        help="write every component's data as JSON files into DIR (relative to the current "
        "directory)",
    )
    parser.add_argument(
        "--encrypt",
        action="store_true",
        help="encrypt the exported files with the key in OTEL_AGENTS_EXPORT_KEY "
        "(needs otel-agents[crypto])",
    )
    parser.add_argument(
        "--nats",
        metavar="URL",
        help="exchange the agents' messages through this NATS JetStream server (needs "
        "otel-agents[nats]) instead of in process",
    )
    parser.set_defaults(handler=_handle)
