"""What the dashboard reads each refresh: tracked metrics, agent statuses, upstreams, resources.

Every source is read by duck typing (a tracker's ``get_metrics``, an agent manager's
``list_agents``, a gateway's ``list_services``), so the dashboard imports none of them, and
every read is failsafe: a source that raises is logged once and reads as empty.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from otel_agents._alert_record import Alert, AlertLevel
from otel_agents._alert_rules import RuleMetric
from otel_agents._errors import invalid_type, invalid_value
from otel_agents._history import summarize
from otel_agents._logs import redacting_logger
from otel_agents._numbers import is_real
from otel_agents._runtime import FailureLog, failsafe_call
from otel_agents._tracker import MetricType

__all__ = [
    "Sources",
    "agent_stats",
    "alerts_by_level",
    "empty_stats",
    "error_rate_percent",
    "rule_readings",
    "system_resources_reader",
]

_logger = redacting_logger("otel_agents.dashboard")

#: Agent statuses that count as available (the messaging protocol's AgentStatus values).
AVAILABLE_STATUSES = frozenset({"online", "busy"})
#: Agent statuses the ``agent_offline`` rule fires on.
DOWN_STATUSES = frozenset({"offline", "error"})

ResourceReader = Callable[[], dict[str, float | None]]

_FAILED = object()  # the resource reader raised (logged by the failsafe call)
_EXAMPLE = "{'cpu_percent': 12.5, 'memory_percent': 40.0}"


class Sources:
    """Failsafe readers over the tracker, agent manager, gateway and resource reader."""

    def __init__(
        self,
        tracker: Any,
        agent_manager: Any,
        gateway: Any,
        resources: ResourceReader | None,
    ) -> None:
        self.tracker, self.agent_manager, self.gateway = tracker, agent_manager, gateway
        self.resources = resources
        self._failures = FailureLog(
            _logger, "dashboard: reading %s failed; shown as empty (logged once)"
        )

    def _failsafe(self, what: str, read: Callable[[], Any], empty: Any) -> Any:
        return failsafe_call(read, failures=self._failures, key=what, default=empty)

    def records(self, window: float) -> list[Any]:
        """Tracked metrics of the last ``window`` seconds."""
        if self.tracker is None:
            return []
        return list(
            self._failsafe(
                "tracked metrics", lambda: self.tracker.get_metrics(time_range=window), []
            )
        )

    def tracked_agents(self) -> list[str]:
        if self.tracker is None or not hasattr(self.tracker, "get_agents"):
            return []
        return list(self._failsafe("tracked agents", self.tracker.get_agents, []))

    def agents(self) -> dict[str, dict[str, Any]]:
        """Agents the manager knows: ``{agent_id: {"name": ..., "status": ...}}``."""
        if self.agent_manager is None:
            return {}

        def read() -> dict[str, dict[str, Any]]:
            return {
                str(info.agent_id): {
                    "name": str(getattr(info, "name", info.agent_id)),
                    "status": str(getattr(info, "status", "unknown")),
                }
                for info in self.agent_manager.list_agents()
            }

        found: dict[str, dict[str, Any]] = self._failsafe("agent statuses", read, {})
        return found

    def upstreams(self) -> list[dict[str, Any]]:
        """Gateway services: ``{"service_id", "instances", "healthy_instances"}`` each."""
        if self.gateway is None:
            return []

        def read() -> list[dict[str, Any]]:
            services = []
            for service in self.gateway.list_services():
                instances = len(service.get("instances", ()))
                healthy = int(service.get("healthy_instances", instances))
                services.append(
                    {
                        "service_id": str(service["service_id"]),
                        "instances": instances,
                        "healthy_instances": healthy,
                        "unhealthy_instances": max(0, instances - healthy),
                    }
                )
            return services

        found: list[dict[str, Any]] = self._failsafe("gateway services", read, [])
        return found

    def system(self) -> dict[str, float | None]:
        """``{"cpu_percent", "memory_percent"}`` from the resource reader, each a finite
        number or None. The reader is user code: a result that is not a mapping, or a value
        that is not None or a finite number (a string, NaN, ``True``), is logged once and
        reads as unknown, so that it can break neither the health score nor a refresh."""
        reading: dict[str, float | None] = {"cpu_percent": None, "memory_percent": None}
        if self.resources is None:
            return reading
        found = self._failsafe("system resources", self.resources, _FAILED)
        if found is _FAILED:
            return reading
        if not isinstance(found, Mapping):
            self._bad_reading(
                "result",
                invalid_type("resource_reader()", found, "a mapping such as " + _EXAMPLE),
            )
            return reading
        for key in reading:
            value = found.get(key)
            if value is None or is_real(value):
                reading[key] = value
            else:
                expected = "None or a finite percentage such as 12.5"
                error = invalid_value(f"resource_reader()[{key!r}]", value, expected)
                self._bad_reading(key, error)
        return reading

    def _bad_reading(self, key: str, error: Exception) -> None:
        """Log ``error`` the first time the reader's ``key`` is bad (then stay quiet)."""
        try:
            raise error
        except Exception:  # FailureLog logs the exception being handled
            self._failures.record(("resource_reader", key), "the resource_reader's result")


def system_resources_reader() -> ResourceReader:
    """The machine's CPU and memory in use, percent, from psutil (via SystemReader)."""
    from otel_agents._system_metrics import SystemReader

    reader = SystemReader()

    def read() -> dict[str, float | None]:
        shares = reader.cpu_utilization()
        memory = reader.memory_utilization()
        return {
            "cpu_percent": round(100.0 * (1.0 - shares.get("idle", 0.0)), 2),
            "memory_percent": round(100.0 * memory.get("used", 0.0), 2),
        }

    return read


def agent_stats(records: Iterable[Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Per-agent figures and per-metric-type summaries from tracked records (oldest first).

    Returns ``(agents, metrics)``: ``agents[agent_id]`` has the latest CPU %, memory bytes,
    throughput and queue size, the response-time summary, request and error counts and the
    error rate (the latest tracked ``error_rate``, else errors / requests); ``metrics[type]``
    summarizes every value of that type in the window, with its unit.
    """
    values: dict[str, dict[MetricType, list[float]]] = {}
    by_type: dict[MetricType, list[float]] = {}
    for record in records:
        by_type.setdefault(record.metric_type, []).append(record.value)
        if record.agent_id is not None:
            values.setdefault(record.agent_id, {}).setdefault(record.metric_type, []).append(
                record.value
            )
    agents = {agent_id: _one_agent(kinds) for agent_id, kinds in sorted(values.items())}
    metrics = {
        kind.value: {**summarize(vals), "unit": kind.unit}
        for kind, vals in sorted(by_type.items(), key=lambda item: item[0].value)
    }
    return agents, metrics


def _one_agent(kinds: dict[MetricType, list[float]]) -> dict[str, Any]:
    def latest(kind: MetricType) -> float | None:
        found = kinds.get(kind)
        return found[-1] if found else None

    requests = sum(kinds.get(MetricType.REQUEST_COUNT, ()))
    errors = sum(kinds.get(MetricType.ERROR_COUNT, ()))
    error_rate = latest(MetricType.ERROR_RATE)
    if error_rate is None and requests > 0:
        error_rate = error_rate_percent(errors, requests)
    response = summarize(kinds.get(MetricType.RESPONSE_TIME, ()))
    return {
        "cpu_percent": latest(MetricType.CPU_USAGE),
        "memory_bytes": latest(MetricType.MEMORY_USAGE),
        "throughput": latest(MetricType.THROUGHPUT),
        "queue_size": latest(MetricType.QUEUE_SIZE),
        "response_time": response,
        "requests": requests,
        "errors": errors,
        "error_rate_percent": error_rate,
    }


def error_rate_percent(errors: float, requests: float) -> float | None:
    """``100 * errors / requests`` rounded, capped at 100 % (retries counted as errors can
    outnumber requests); None when it cannot be known (counts beyond a float)."""
    try:
        rate = 100.0 * errors / requests
    except (ZeroDivisionError, OverflowError):  # an int count too large for a float
        return None
    if math.isnan(rate):  # inf / inf
        return None
    return round(min(100.0, max(0.0, rate)), 3)


def rule_readings(
    stats: Mapping[str, Mapping[str, Any]],
    agents_known: Mapping[str, Mapping[str, Any]],
    system: Mapping[str, float | None],
    upstreams: Iterable[Mapping[str, Any]],
) -> dict[str, dict[str, float]]:
    readings: dict[str, dict[str, float]] = {}

    def put(metric: str, subject: str, value: float | None) -> None:
        if value is not None:
            readings.setdefault(metric, {})[subject] = float(value)

    for agent_id, figures in stats.items():
        put(RuleMetric.CPU_USAGE, agent_id, figures["cpu_percent"])
        put(RuleMetric.MEMORY_USAGE, agent_id, figures["memory_bytes"])
        put(RuleMetric.RESPONSE_TIME_P95, agent_id, figures["response_time"].get("p95"))
        put(RuleMetric.ERROR_RATE, agent_id, figures["error_rate_percent"])
    for agent_id, info in agents_known.items():
        put(RuleMetric.AGENT_OFFLINE, agent_id, 1.0 if info["status"] in DOWN_STATUSES else 0.0)
    for service in upstreams:
        put(RuleMetric.UPSTREAM_UNHEALTHY, service["service_id"], service["unhealthy_instances"])
    put(RuleMetric.SYSTEM_CPU_USAGE, "system", system["cpu_percent"])
    put(RuleMetric.SYSTEM_MEMORY_USAGE, "system", system["memory_percent"])
    return readings


def alerts_by_level(alerts: Iterable[Alert]) -> dict[str, int]:
    counts = {level.value: 0 for level in AlertLevel}
    for alert in alerts:
        counts[alert.level.value] += 1
    return counts


def empty_stats() -> dict[str, Any]:
    return {
        "cpu_percent": None,
        "memory_bytes": None,
        "throughput": None,
        "queue_size": None,
        "response_time": {"count": 0},
        "requests": 0,
        "errors": 0,
        "error_rate_percent": None,
    }
