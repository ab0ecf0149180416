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
from .names import bucket, label, metric, selector
from .rules_ai import AI_RULES
from .rules_messaging import MESSAGING_RULES
from .rules_pipeline import PIPELINE_RULES

__all__ = ["RULES", "RULE_GROUP", "AlertRule", "Case", "rules_document", "tests_document"]

RULE_GROUP = "otel-agents"

AGENT = label(sc.GEN_AI_AGENT_ID)
SERVICE = label(sc.GATEWAY_SERVICE_ID)
HOST = {"job": "otel-agents", "instance": "host-1:9464"}


def _series(name: str, **matchers: str) -> str:
    return selector(name, matchers) if matchers else name


def _rate(series: str, window: str = "5m") -> str:
    return f"rate({series}[{window}])"


def _host(name: str, **attributes: str) -> str:
    """An input series with attribute labels (translated) and the scrape's job/instance."""
    pairs = [f'{label(k)}="{v}"' for k, v in attributes.items()]
    pairs += [f'{k}="{v}"' for k, v in HOST.items()]
    return f"{name}{{{','.join(pairs)}}}"


def _p95_by_agent() -> str:
    inner = _rate(bucket(sc.AGENT_RESPONSE_DURATION))
    return f"histogram_quantile(0.95, sum by (le, {AGENT}) ({inner}))"


def _latency_buckets(agent: str, slow: bool) -> dict[str, str]:
    name = bucket(sc.AGENT_RESPONSE_DURATION)
    fast_count = _growing(0 if slow else 60)
    all_count = _growing(60)
    return {
        f'{name}{{{AGENT}="{agent}",le="0.5"}}': fast_count,
        f'{name}{{{AGENT}="{agent}",le="2.5"}}': fast_count,
        f'{name}{{{AGENT}="{agent}",le="5"}}': all_count,
        f'{name}{{{AGENT}="{agent}",le="+Inf"}}': all_count,
    }


def _observed(spec: sc.MetricSpec, agent: str, seconds: float, per_minute: int) -> dict[str, str]:
    """Every ``_bucket`` series of ``spec`` (its real boundaries) for ``per_minute``
    observations of ``seconds`` each, by agent: what the exporter serves, so a case proves
    what ``histogram_quantile`` makes of the shipped bucket layout."""
    name = bucket(spec)
    bounds = [f"{b:g}" for b in spec.buckets or ()]
    counts = {bound: _growing(per_minute if seconds <= float(bound) else 0) for bound in bounds}
    counts["+Inf"] = _growing(per_minute)
    return {f'{name}{{{AGENT}="{agent}",le="{le}"}}': values for le, values in counts.items()}


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
_OFFLINE = _series(metric(sc.AGENT_REGISTRY_AGENTS), **{sc.AGENT_STATUS: "offline"})
_HEALTH = metric(sc.AGENT_HEALTH_SCORE)
_HEALTH_SCOPE = label(sc.HEALTH_SCOPE)
_5XX = _series(metric(sc.GATEWAY_REQUESTS), **{sc.GATEWAY_STATUS_CLASS: "5xx"})
_POOL_EXHAUSTED = _series(metric(sc.GATEWAY_UPSTREAM_ERRORS), **{sc.ERROR_TYPE: "pool_exhausted"})


def _upstream_errors(service: str, error_type: str) -> str:
    return (
        f'{metric(sc.GATEWAY_UPSTREAM_ERRORS)}{{{SERVICE}="{service}",'
        f'{label(sc.ERROR_TYPE)}="{error_type}"}}'
    )


_STACK_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="OtelAgentsHostHighCpu",
        service="host",
        expr=f"100 * (1 - max by (job, instance) ({_IDLE})) > 90",
        hold="5m",
        severity="warning",
        summary=f"CPU of {_t('instance')} above 90% for 5 minutes",
        description="system.cpu.utilization: less than 10% of CPU time idle.",
        fires=Case(
            {_host(metric(sc.SYSTEM_CPU_UTILIZATION), **{sc.CPU_MODE: "idle"}): _steady(0.05)}, HOST
        ),
        quiet=Case(
            {_host(metric(sc.SYSTEM_CPU_UTILIZATION), **{sc.CPU_MODE: "idle"}): _steady(0.5)}
        ),
    ),
    AlertRule(
        name="OtelAgentsAgentHighCpu",
        service="agents",
        expr=f"max by ({AGENT}) ({metric(sc.AGENT_CPU_USAGE)}) > 90",
        hold="5m",
        severity="warning",
        summary=f"Agent {_t(AGENT)} uses more than 90% CPU",
        description="agent.cpu.usage above 90% for 5 minutes.",
        fires=Case(
            {f'{metric(sc.AGENT_CPU_USAGE)}{{{AGENT}="planner"}}': _steady(95)}, {AGENT: "planner"}
        ),
        quiet=Case({f'{metric(sc.AGENT_CPU_USAGE)}{{{AGENT}="planner"}}': _steady(40)}),
    ),
    AlertRule(
        name="OtelAgentsMemoryPressure",
        service="host",
        expr=f"max by (job, instance) ({_MEMORY_USED}) > 0.9",
        hold="5m",
        severity="warning",
        summary=f"Memory of {_t('instance')} more than 90% used",
        description="system.memory.utilization (state used) above 0.9 for 5 minutes.",
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
    AlertRule(
        name="OtelAgentsSlowAgent",
        service="agents",
        expr=f"{_p95_by_agent()} > 2",
        hold="5m",
        severity="warning",
        summary=f"Agent {_t(AGENT)} responds slowly (p95 above 2 s)",
        description="95th percentile of agent.response.duration over 5 minutes above 2 s.",
        fires=Case(_latency_buckets("planner", slow=True), {AGENT: "planner"}),
        quiet=Case(_latency_buckets("planner", slow=False)),
        more=(
            Case(
                _observed(sc.AGENT_RESPONSE_DURATION, "fast", 1.1, 60),
                name="every response takes 1.1 s (a boundary at the threshold, no interpolation "
                "past it)",
            ),
            Case(
                _observed(sc.AGENT_RESPONSE_DURATION, "slow", 2.1, 60),
                {AGENT: "slow"},
                name="every response takes 2.1 s",
            ),
        ),
    ),
    AlertRule(
        name="OtelAgentsLowHealthScore",
        service="agents",
        expr=f"min by ({_HEALTH_SCOPE}, {AGENT}) ({_HEALTH}) < 50",
        hold="5m",
        severity="critical",
        summary=f"Health score of {_t(_HEALTH_SCOPE)} {_t(AGENT)} below 50",
        description="agent.health.score (0-100) below 50 for 5 minutes.",
        fires=Case(
            {f'{_HEALTH}{{{_HEALTH_SCOPE}="agent",{AGENT}="planner"}}': _steady(30)},
            {_HEALTH_SCOPE: "agent", AGENT: "planner"},
        ),
        quiet=Case({f'{_HEALTH}{{{_HEALTH_SCOPE}="agent",{AGENT}="planner"}}': _steady(90)}),
    ),
    AlertRule(
        name="OtelAgentsAgentOffline",
        service="agents",
        expr=f"max by (job, instance) ({_OFFLINE}) > 0",
        hold="1m",
        severity="critical",
        summary=f"The registry at {_t('instance')} reports offline agents",
        description="agent.registry.agents with agent.status offline above 0 for 1 minute.",
        fires=Case(
            {_host(metric(sc.AGENT_REGISTRY_AGENTS), **{sc.AGENT_STATUS: "offline"}): _steady(1)},
            HOST,
        ),
        quiet=Case(
            {_host(metric(sc.AGENT_REGISTRY_AGENTS), **{sc.AGENT_STATUS: "offline"}): _steady(0)}
        ),
    ),
    AlertRule(
        name="OtelAgentsHeartbeatMissing",
        service="agents",
        expr=f"max by ({AGENT}) ({metric(sc.AGENT_HEARTBEAT_AGE)}) > 90",
        hold="1m",
        severity="warning",
        summary=f"No heartbeat from agent {_t(AGENT)} for 90 s",
        description="agent.heartbeat.age above three default heartbeat intervals (30 s).",
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
        description="gateway.requests with status class 5xx over all requests, 5-minute rate.",
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
        description="gateway.instances.healthy is 0: every instance is out of rotation.",
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
        description="gateway.rate_limited over gateway.requests, 5-minute rate.",
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
            "gateway.upstream.errors with error.type=pool_exhausted: every connection the "
            "gateway may open to the service (max_connections_per_upstream) stayed busy; the "
            "upstream is slow or the limit is too low. 5-minute rate, per second."
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
