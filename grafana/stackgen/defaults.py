"""The in-process default alert rules that Prometheus rules mirror, read rather than repeated.

``PerformanceDashboard`` raises alerts from ``otel_agents._alert_rules.DEFAULT_RULES``; the
stack's Prometheus rules on the same metrics take their thresholds, comparison (``>=``, as
:meth:`ThresholdRule.breached`) and level from there, and the offline rule its statuses from
``DOWN_STATUSES``, so the two cannot disagree for the same inputs. What differs on purpose
(hold times suited to scraping, no hysteresis band) is in docs/dashboard.md.
"""

from __future__ import annotations

from otel_agents._alert_record import AlertLevel
from otel_agents._alert_rules import DEFAULT_RULES, ThresholdRule
from otel_agents._dashboard_sources import DOWN_STATUSES

__all__ = [
    "MIRRORS",
    "SEVERITY",
    "at_least",
    "default",
    "down_statuses",
    "severity",
    "threshold",
]

#: Each Prometheus rule that mirrors a default rule, with that rule's name.
MIRRORS: dict[str, str] = {
    "OtelAgentsHostHighCpu": "system_cpu_high",
    "OtelAgentsAgentHighCpu": "high_cpu",
    "OtelAgentsMemoryPressure": "memory_pressure",
    "OtelAgentsSlowAgent": "slow_agent",
    "OtelAgentsAgentHighErrorRate": "high_error_rate",
    "OtelAgentsAgentOffline": "agent_offline",
}

#: Alertmanager's severities (alertmanager/alertmanager.yml) for the in-process levels.
SEVERITY: dict[AlertLevel, str] = {
    AlertLevel.INFO: "warning",
    AlertLevel.WARNING: "warning",
    AlertLevel.ERROR: "critical",
    AlertLevel.CRITICAL: "critical",
}

_DEFAULTS = {rule.name: rule for rule in DEFAULT_RULES}


def default(name: str) -> ThresholdRule:
    """The default rule ``name`` (a KeyError names a rule that is gone)."""
    return _DEFAULTS[name]


def threshold(name: str, scale: float = 1.0) -> float:
    """The rule's ``raise_at``, times ``scale``."""
    return default(name).raise_at * scale


def at_least(name: str, scale: float = 1.0) -> str:
    """`` >= <raise_at>``: the rule raises at its threshold, as in process. ``scale``
    converts the unit (a percentage against a 0-1 ratio: 0.01)."""
    rule = default(name)
    if not rule.higher_is_worse:
        raise ValueError(f"{name}: lower is worse; use <= (not needed by any rule yet)")
    return f" >= {threshold(name, scale):g}"


def severity(name: str) -> str:
    return SEVERITY[AlertLevel(default(name).level)]


def down_statuses() -> str:
    """A regex matcher of the statuses ``agent_offline`` fires on (``=~error|offline``)."""
    return "=~" + "|".join(sorted(DOWN_STATUSES))
