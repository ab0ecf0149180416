"""The shipped Prometheus rules raise where the in-process default rules raise.

Both watch the same metrics: with ``high_cpu`` at >= 85% and OtelAgentsAgentHighCpu at > 90%,
``agent_offline`` counting ``error`` agents and Prometheus only ``offline`` ones, and no
Prometheus rule for ``high_error_rate``, the same inputs raised an alert on one side only.
This reads the committed rule file and compares it with ``DEFAULT_RULES`` and
``DOWN_STATUSES``; docs/dashboard.md lists what differs on purpose (hold times, no
hysteresis band).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from _stack import load_yaml
from stackgen.defaults import MIRRORS

from otel_agents._alert_rules import DEFAULT_RULES
from otel_agents._dashboard_sources import DOWN_STATUSES

#: Prometheus rule, the default rule it mirrors, and the unit conversion (percent to ratio).
PAIRS = (
    ("OtelAgentsHostHighCpu", "system_cpu_high", 1.0),
    ("OtelAgentsAgentHighCpu", "high_cpu", 1.0),
    ("OtelAgentsMemoryPressure", "memory_pressure", 0.01),
    ("OtelAgentsSlowAgent", "slow_agent", 1.0),
    ("OtelAgentsAgentHighErrorRate", "high_error_rate", 1.0),
    ("OtelAgentsAgentOffline", "agent_offline", 1.0),
)
#: The in-process levels as Alertmanager severities.
SEVERITIES = {"warning": "warning", "error": "critical", "critical": "critical"}
_COMPARISON = re.compile(r"(>=|<=|==|!=|>|<)\s*(-?[0-9][0-9.e+-]*)")
_STATUSES = re.compile(r'agent_status=~"([^"]*)"')


def _rules() -> dict[str, dict[str, Any]]:
    document = load_yaml("prometheus/rules/otel-agents.rules.yml")
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"]}


def thresholds(expr: str) -> list[tuple[str, float]]:
    """The comparisons of ``expr`` with a number, but ``> 0`` (a guard against dividing by
    zero, not a threshold)."""
    return [
        (op, float(number))
        for op, number in _COMPARISON.findall(expr)
        if (op, float(number)) != (">", 0.0)
    ]


def test_every_default_rule_on_a_scraped_metric_has_its_prometheus_rule() -> None:
    """upstream_unhealthy is the one left out: Prometheus has no count of the instances out
    of rotation, and alerts on a service with no healthy instance instead (docs/dashboard.md)."""
    mirrored = {default for _, default, _ in PAIRS}

    assert {rule.name for rule in DEFAULT_RULES} - mirrored == {"upstream_unhealthy"}
    assert {name: default for name, default, _ in PAIRS} == MIRRORS
    assert set(MIRRORS) <= set(_rules())


@pytest.mark.parametrize(("alert", "default", "scale"), PAIRS)
def test_the_prometheus_rule_raises_at_the_default_threshold(
    alert: str, default: str, scale: float
) -> None:
    (python,) = [rule for rule in DEFAULT_RULES if rule.name == default]
    rule = _rules()[alert]

    found = thresholds(rule["expr"])
    assert found, rule["expr"]
    assert found == [(">=", pytest.approx(python.raise_at * scale))] * len(found)
    assert rule["labels"]["severity"] == SEVERITIES[str(python.level)]


def test_the_offline_rule_counts_the_statuses_the_default_rule_counts() -> None:
    (statuses,) = _STATUSES.findall(_rules()["OtelAgentsAgentOffline"]["expr"])

    assert set(statuses.split("|")) == DOWN_STATUSES


def test_the_threshold_reader_skips_only_division_guards() -> None:
    expr = "(x >= 10) or (100 * a / (b > 0) >= 10 unless on (c) x) and y < 3"

    assert thresholds(expr) == [(">=", 10.0), (">=", 10.0), ("<", 3.0)]
