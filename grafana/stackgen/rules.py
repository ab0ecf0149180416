"""The Prometheus alert rules of the stack, each with the promtool cases that prove it.

Every rule is an :class:`AlertRule`: its PromQL (built from derived names only), how long the
condition must hold, its severity and annotations, and two cases for ``promtool test rules``:
input series that make it fire and input series that keep it quiet. :func:`rules_document`
and :func:`tests_document` turn them into the two YAML files the stack ships.
"""

from __future__ import annotations

from typing import Any

from otel_agents import semconv as sc

from .alerting import (
    DEFAULT_RUNBOOK,
    AlertRule,
    Case,
    growing as _growing,
    steady as _steady,
    template as _t,
)
from .defaults import at_least, severity, threshold
from .names import label, metric, selector
from .rules_agents import (
    AGENT_HIGH_CPU,
    AGENT_HIGH_ERROR_RATE,
    AGENT_OFFLINE,
    HOST,
    SLOW_AGENT,
    host_series as _host,
)
from .rules_ai import AI_RULES
from .rules_messaging import MESSAGING_RULES
from .rules_pipeline import PIPELINE_RULES

__all__ = ["RULES", "RULE_GROUP", "AlertRule", "Case", "rules_document", "tests_document"]

RULE_GROUP = "otel-agents"

AGENT = label(sc.GEN_AI_AGENT_ID)
SERVICE = label(sc.GATEWAY_SERVICE_ID)


def _series(name: str, **matchers: str) -> str:
    return selector(name, matchers) if matchers else name


def _rate(series: str, window: str = "5m") -> str:
    return f"rate({series}[{window}])"


def _gateway_ratio(numerator: str, denominator: str) -> str:
    return f"sum by ({SERVICE}) ({numerator}) / sum by ({SERVICE}) ({denominator})"


def _requests(service: str, status_class: str) -> str:
    return (
        f'{metric(sc.GATEWAY_REQUESTS)}{{{SERVICE}="{service}",'
        f'{label(sc.GATEWAY_STATUS_CLASS)}="{status_class}",'
        f'{label(sc.HTTP_REQUEST_METHOD)}="GET"}}'
    )


def _rate_limited(service: str) -> str:
    return (
        f'{metric(sc.GATEWAY_RATE_LIMITED)}{{{SERVICE}="{service}",'
        f'{label(sc.GATEWAY_RATE_LIMIT_SCOPE)}="client"}}'
    )


_IDLE = _series(metric(sc.SYSTEM_CPU_UTILIZATION), **{sc.CPU_MODE: "idle"})
_MEMORY_USED = _series(metric(sc.SYSTEM_MEMORY_UTILIZATION), **{sc.SYSTEM_MEMORY_STATE: "used"})
_HEALTH = metric(sc.AGENT_HEALTH_SCORE)
_HEALTH_SCOPE = label(sc.HEALTH_SCOPE)
_5XX = _series(metric(sc.GATEWAY_REQUESTS), **{sc.GATEWAY_STATUS_CLASS: "5xx"})
_POOL_EXHAUSTED = _series(metric(sc.GATEWAY_UPSTREAM_ERRORS), **{sc.ERROR_TYPE: "pool_exhausted"})


def _upstream_errors(service: str, error_type: str) -> str:
    return (
        f'{metric(sc.GATEWAY_UPSTREAM_ERRORS)}{{{SERVICE}="{service}",'
        f'{label(sc.ERROR_TYPE)}="{error_type}"}}'
    )


_HOST_CPU = threshold("system_cpu_high")
_MEMORY = threshold("memory_pressure")

_STACK_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="OtelAgentsHostHighCpu",
        service="host",
        expr=f"100 * (1 - max by (job, instance) ({_IDLE})){at_least('system_cpu_high')}",
        hold="5m",
        severity=severity("system_cpu_high"),
        summary=f"CPU of {_t('instance')} {_HOST_CPU:g}% or more busy for 5 minutes",
        description=(
            f"{sc.SYSTEM_CPU_UTILIZATION.name}: at most {100 - _HOST_CPU:g}% of CPU time idle (in "
            "process: system_cpu_high)."
        ),
        fires=Case(
            {_host(metric(sc.SYSTEM_CPU_UTILIZATION), **{sc.CPU_MODE: "idle"}): _steady(0.05)}, HOST
        ),
        quiet=Case(
            {_host(metric(sc.SYSTEM_CPU_UTILIZATION), **{sc.CPU_MODE: "idle"}): _steady(0.5)}
        ),
    ),
    AGENT_HIGH_CPU,
    AlertRule(
        name="OtelAgentsMemoryPressure",
        service="host",
        expr=f"max by (job, instance) ({_MEMORY_USED}){at_least('memory_pressure', 0.01)}",
        hold="5m",
        severity=severity("memory_pressure"),
        summary=f"Memory of {_t('instance')} {_MEMORY:g}% or more used",
        description=(
            f"{sc.SYSTEM_MEMORY_UTILIZATION.name} (state used) at {_MEMORY / 100:g} or above for 5 "
            "minutes (in process: memory_pressure)."
        ),
        fires=Case(
            {
                _host(
                    metric(sc.SYSTEM_MEMORY_UTILIZATION), **{sc.SYSTEM_MEMORY_STATE: "used"}
                ): _steady(0.95)
            },
            HOST,
        ),
        quiet=Case(
            {
                _host(
                    metric(sc.SYSTEM_MEMORY_UTILIZATION), **{sc.SYSTEM_MEMORY_STATE: "used"}
                ): _steady(0.6)
            }
        ),
    ),
    SLOW_AGENT,
    AlertRule(
        name="OtelAgentsLowHealthScore",
        service="agents",
        expr=f"min by ({_HEALTH_SCOPE}, {AGENT}) ({_HEALTH}) < 50",
        hold="5m",
        severity="critical",
        summary=f"Health score of {_t(_HEALTH_SCOPE)} {_t(AGENT)} below 50",
        description=f"{sc.AGENT_HEALTH_SCORE.name} (0-100) below 50 for 5 minutes.",
        fires=Case(
            {f'{_HEALTH}{{{_HEALTH_SCOPE}="agent",{AGENT}="planner"}}': _steady(30)},
            {_HEALTH_SCOPE: "agent", AGENT: "planner"},
        ),
        quiet=Case({f'{_HEALTH}{{{_HEALTH_SCOPE}="agent",{AGENT}="planner"}}': _steady(90)}),
    ),
    AGENT_OFFLINE,
    AGENT_HIGH_ERROR_RATE,
    AlertRule(
        name="OtelAgentsHeartbeatMissing",
        service="agents",
        expr=f"max by ({AGENT}) ({metric(sc.AGENT_HEARTBEAT_AGE)}) > 90",
        hold="1m",
        severity="warning",
        summary=f"No heartbeat from agent {_t(AGENT)} for 90 s",
        description=(
            f"{sc.AGENT_HEARTBEAT_AGE.name} above three default heartbeat intervals (30 s)."
        ),
        fires=Case(
            {f'{metric(sc.AGENT_HEARTBEAT_AGE)}{{{AGENT}="worker-1"}}': _steady(120)},
            {AGENT: "worker-1"},
        ),
        quiet=Case({f'{metric(sc.AGENT_HEARTBEAT_AGE)}{{{AGENT}="worker-1"}}': _steady(10)}),
    ),
    AlertRule(
        name="OtelAgentsGatewayHigh5xxRatio",
        service="otel-agents-gateway",
        expr=_gateway_ratio(_rate(_5XX), _rate(metric(sc.GATEWAY_REQUESTS))) + " > 0.05",
        hold="5m",
        severity="critical",
        summary=f"More than 5% of gateway requests to {_t(SERVICE)} answered 5xx",
        description=(
            f"{sc.GATEWAY_REQUESTS.name} with status class 5xx over all requests, 5-minute rate."
        ),
        fires=Case(
            {_requests("orders", "2xx"): _growing(60), _requests("orders", "5xx"): _growing(20)},
            {SERVICE: "orders"},
        ),
        quiet=Case(
            {_requests("orders", "2xx"): _growing(60), _requests("orders", "5xx"): _growing(1)}
        ),
    ),
    AlertRule(
        name="OtelAgentsUpstreamUnhealthy",
        service="otel-agents-gateway",
        expr=f"max by ({SERVICE}) ({metric(sc.GATEWAY_INSTANCES_HEALTHY)}) < 1",
        hold="1m",
        severity="critical",
        summary=f"No healthy upstream instance for gateway service {_t(SERVICE)}",
        description=f"{sc.GATEWAY_INSTANCES_HEALTHY.name} is 0: every instance is out of rotation.",
        fires=Case(
            {f'{metric(sc.GATEWAY_INSTANCES_HEALTHY)}{{{SERVICE}="orders"}}': _steady(0)},
            {SERVICE: "orders"},
        ),
        quiet=Case({f'{metric(sc.GATEWAY_INSTANCES_HEALTHY)}{{{SERVICE}="orders"}}': _steady(2)}),
    ),
    AlertRule(
        name="OtelAgentsRateLimitSaturation",
        service="otel-agents-gateway",
        expr=_gateway_ratio(
            _rate(metric(sc.GATEWAY_RATE_LIMITED)), _rate(metric(sc.GATEWAY_REQUESTS))
        )
        + " > 0.1",
        hold="5m",
        severity="warning",
        summary=f"More than 10% of requests to {_t(SERVICE)} are rate limited (429)",
        description=(
            f"{sc.GATEWAY_RATE_LIMITED.name} over {sc.GATEWAY_REQUESTS.name}, 5-minute rate."
        ),
        fires=Case(
            {
                _requests("orders", "2xx"): _growing(60),
                _requests("orders", "4xx"): _growing(30),
                _rate_limited("orders"): _growing(30),
            },
            {SERVICE: "orders"},
        ),
        quiet=Case(
            {_requests("orders", "2xx"): _growing(60), _rate_limited("orders"): _growing(1)}
        ),
    ),
    AlertRule(
        name="OtelAgentsUpstreamConnectionsExhausted",
        service="otel-agents-gateway",
        expr=f"sum by ({SERVICE}) ({_rate(_POOL_EXHAUSTED)}) > 0.1",
        hold="5m",
        severity="warning",
        summary=(
            f"Requests to {_t(SERVICE)} wait in vain for an upstream connection (503 from the "
            "gateway)"
        ),
        description=(
            f"{sc.GATEWAY_UPSTREAM_ERRORS.name} with {sc.ERROR_TYPE}=pool_exhausted: every "
            "connection the gateway may open to the service (max_connections_per_upstream) "
            "stayed busy; the upstream is slow or the limit is too low. 5-minute rate, per "
            "second."
        ),
        fires=Case(
            {_upstream_errors("orders", "pool_exhausted"): _growing(60)}, {SERVICE: "orders"}
        ),
        quiet=Case(
            {
                _upstream_errors("orders", "pool_exhausted"): _steady(3),
                _upstream_errors("orders", "timeout"): _growing(60),
            }
        ),
    ),
)


RULES: tuple[AlertRule, ...] = (*_STACK_RULES, *MESSAGING_RULES, *AI_RULES, *PIPELINE_RULES)


def rules_document(*, hold: bool = True, runbook: str = DEFAULT_RUNBOOK) -> dict[str, Any]:
    """The rule file. ``hold=False`` drops every ``for`` (the e2e proof cannot wait minutes);
    ``runbook`` is the URL (or repository path) of docs/runbook.md the annotations link to."""
    rules = []
    for rule in RULES:
        entry: dict[str, Any] = {"alert": rule.name, "expr": rule.expr}
        if hold:
            entry["for"] = rule.hold
        entry["labels"] = rule.static_labels()
        entry["annotations"] = rule.annotations(runbook=runbook)
        rules.append(entry)
    return {"groups": [{"name": RULE_GROUP, "rules": rules}]}


def tests_document(rule_file: str, runbook: str) -> dict[str, Any]:
    """The ``promtool test rules`` file: for every rule, one case firing and one quiet."""
    tests = []
    for rule in RULES:
        for case in (rule.fires, rule.quiet, *rule.more):
            expected = []
            if case.alert_labels is not None:
                labels = {**case.alert_labels, **rule.static_labels()}
                annotations = rule.annotations(labels, runbook=runbook)
                expected.append({"exp_labels": labels, "exp_annotations": annotations})
            name = f"{rule.name} {'fires' if expected else 'stays quiet'}"
            tests.append(
                {
                    "name": f"{name}: {case.name}" if case.name else name,
                    "interval": "1m",
                    "input_series": [
                        {"series": series, "values": values}
                        for series, values in case.series.items()
                    ],
                    "alert_rule_test": [
                        {"eval_time": at, "alertname": rule.name, "exp_alerts": expected}
                        for at in case.eval_times
                    ],
                }
            )
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}
