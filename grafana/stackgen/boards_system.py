"""The system overview dashboard: health, alerts, host, process and agent resources."""

from __future__ import annotations

from otel_agents import semconv as sc

from .model import Board, Kind, Panel, Query, Row
from .names import label, metric, selector
from .promql import AGENT, FIRING, legend, rate, stat, sum_by, ts

__all__ = ["SYSTEM"]

_HEALTH = metric(sc.AGENT_HEALTH_SCORE)
_HEALTH_SCOPE = label(sc.HEALTH_SCOPE)
_IDLE = selector(metric(sc.SYSTEM_CPU_UTILIZATION), {sc.CPU_MODE: "idle"})
_MEMORY_USED = selector(metric(sc.SYSTEM_MEMORY_UTILIZATION), {sc.SYSTEM_MEMORY_STATE: "used"})
#: One series per process: the user and system modes (cpu.mode) added up.
_PROCESS_CPU = f"sum without ({label(sc.CPU_MODE)}) ({metric(sc.PROCESS_CPU_UTILIZATION)})"
_DISK = label(sc.DISK_IO_DIRECTION)
_NETWORK = label(sc.NETWORK_IO_DIRECTION)
#: The health score's colours: the console's levels (otel_agents._console), and the
#: OtelAgentsLowHealthScore alert (critical) below 50.
HEALTH_THRESHOLDS = ((0.0, "red"), (50.0, "yellow"), (80.0, "green"))

SYSTEM = Board(
    uid="otel-agents-system",
    title="otel-agents / System overview",
    description="Is the system healthy right now, and if not, is it resources or alerts?",
    rows=(
        Row(
            "Health",
            (
                Panel(
                    "System health score",
                    Kind.STAT,
                    (
                        Query(
                            f"min({selector(_HEALTH, {sc.HEALTH_SCOPE: sc.HEALTH_SCOPE_SYSTEM})})"
                        ),
                    ),
                    "none",
                    "0 (down) to 100 (healthy), from resources, alerts, availability and errors. "
                    "Red below 50 (the OtelAgentsLowHealthScore alert), yellow below 80.",
                    thresholds=HEALTH_THRESHOLDS,
                    min=0,
                    max=100,
                ),
                stat(
                    "Active alerts",
                    sum_by(metric(sc.AGENT_ALERTS_ACTIVE)),
                    "none",
                    "Alerts raised in-process and not yet resolved.",
                ),
                stat(
                    "Prometheus alerts firing",
                    f"count({FIRING}) or vector(0)",
                    "none",
                    "Alert rules of prometheus/rules currently firing.",
                ),
                stat(
                    "Agents online",
                    sum_by(selector(metric(sc.AGENT_REGISTRY_AGENTS), {sc.AGENT_STATUS: "online"})),
                    "none",
                    "Agents online, summed over the processes: each counts the agents it runs "
                    "(over NATS every process mirrors the registry; docs/messaging.md).",
                ),
            ),
        ),
        Row(
            "Resources",
            (
                Panel(
                    "Health score by agent",
                    Kind.TIMESERIES,
                    (
                        Query(
                            selector(_HEALTH, {sc.HEALTH_SCOPE: sc.HEALTH_SCOPE_AGENT}),
                            legend(AGENT),
                        ),
                    ),
                    "none",
                    "Which agent drags the score down? (Red below 50, yellow below 80.)",
                    thresholds=HEALTH_THRESHOLDS,
                    min=0,
                    max=100,
                ),
                ts(
                    "Active alerts by level",
                    [
                        Query(
                            sum_by(metric(sc.AGENT_ALERTS_ACTIVE), label(sc.ALERT_LEVEL)),
                            legend(label(sc.ALERT_LEVEL)),
                        )
                    ],
                    "none",
                    "How serious are the open alerts?",
                ),
                ts(
                    "Host CPU busy",
                    [Query(f"1 - {_IDLE}", legend("instance"))],
                    "percentunit",
                    "system.cpu.utilization outside the idle mode.",
                ),
                ts(
                    "Host memory used",
                    [Query(_MEMORY_USED, legend("instance"))],
                    "percentunit",
                    "system.memory.utilization, state used.",
                ),
                ts(
                    "Process CPU",
                    [Query(_PROCESS_CPU, legend("job"))],
                    "percentunit",
                    "process.cpu.utilization of each otel-agents process, all CPU modes.",
                ),
                ts(
                    "Process resident memory",
                    [Query(metric(sc.PROCESS_MEMORY_USAGE), legend("job"))],
                    "bytes",
                    "process.memory.usage of each otel-agents process.",
                ),
                ts(
                    "Agent CPU",
                    [Query(metric(sc.AGENT_CPU_USAGE), legend(AGENT))],
                    "percent",
                    "agent.cpu.usage reported by each agent.",
                ),
                ts(
                    "Agent memory",
                    [Query(metric(sc.AGENT_MEMORY_USAGE), legend(AGENT))],
                    "bytes",
                    "agent.memory.usage reported by each agent.",
                ),
            ),
        ),
        Row(
            "Host and process I/O",
            (
                ts(
                    "Host memory by state",
                    [
                        Query(
                            metric(sc.SYSTEM_MEMORY_USAGE),
                            legend("instance", label(sc.SYSTEM_MEMORY_STATE)),
                        )
                    ],
                    "bytes",
                    "system.memory.usage: used, free, cached ... bytes.",
                ),
                ts(
                    "Disk and network I/O",
                    [
                        Query(
                            sum_by(rate(metric(sc.SYSTEM_DISK_IO)), "instance", _DISK),
                            f"disk {legend(_DISK)}",
                        ),
                        Query(
                            sum_by(rate(metric(sc.SYSTEM_NETWORK_IO)), "instance", _NETWORK),
                            f"network {legend(_NETWORK)}",
                        ),
                    ],
                    "Bps",
                    "system.disk.io and system.network.io, bytes per second by direction.",
                ),
                ts(
                    "Process CPU time",
                    [
                        Query(
                            sum_by(rate(metric(sc.PROCESS_CPU_TIME)), "job", label(sc.CPU_MODE)),
                            legend("job", label(sc.CPU_MODE)),
                        )
                    ],
                    "percentunit",
                    "process.cpu.time as CPU seconds per second, by mode: 100% is one CPU busy.",
                ),
                ts(
                    "Process virtual memory",
                    [Query(metric(sc.PROCESS_MEMORY_VIRTUAL), legend("job"))],
                    "bytes",
                    "process.memory.virtual of each otel-agents process.",
                ),
                ts(
                    "Process threads",
                    [Query(metric(sc.PROCESS_THREAD_COUNT), legend("job"))],
                    "short",
                    "process.thread.count of each otel-agents process.",
                ),
            ),
        ),
    ),
)
