"""Alert rules on the agents' own metrics: CPU, response time, error rate, offline agents.

Each mirrors a default in-process rule (:mod:`.defaults`): its threshold, comparison, level
and, for offline agents, the statuses come from ``otel_agents``, so Prometheus and
``PerformanceDashboard`` raise for the same inputs.
"""

from __future__ import annotations

from otel_agents import semconv as sc

from .alerting import AlertRule, Case, growing, steady, template
from .defaults import at_least, down_statuses, severity, threshold
from .names import bucket, label, metric, selector

__all__ = [
    "AGENT_HIGH_CPU",
    "AGENT_HIGH_ERROR_RATE",
    "AGENT_OFFLINE",
    "HOST",
    "SLOW_AGENT",
    "host_series",
]

AGENT = label(sc.GEN_AI_AGENT_ID)
#: The scrape labels of the promtool cases' host-level series.
HOST = {"job": "otel-agents", "instance": "host-1:9464"}
_WINDOW = "5m"  # the in-process rules' window_seconds default (300 s)


def host_series(name: str, **attributes: str) -> str:
    """An input series with attribute labels (translated) and the scrape's job/instance."""
    pairs = [f'{label(k)}="{v}"' for k, v in attributes.items()]
    pairs += [f'{k}="{v}"' for k, v in HOST.items()]
    return f"{name}{{{','.join(pairs)}}}"


def _rate(series: str) -> str:
    return f"rate({series}[{_WINDOW}])"


def _of(spec: sc.MetricSpec, agent: str) -> str:
    return f'{metric(spec)}{{{AGENT}="{agent}"}}'


def _counted(agent: str, requests: int, errors: int) -> dict[str, str]:
    """An agent's request and error counters, growing by so many a minute."""
    return {
        _of(sc.AGENT_REQUESTS, agent): growing(requests),
        _of(sc.AGENT_ERRORS, agent): growing(errors),
    }


def _latency_buckets(agent: str, slow: bool) -> dict[str, str]:
    name = bucket(sc.AGENT_RESPONSE_DURATION)
    fast_count = growing(0 if slow else 60)
    all_count = growing(60)
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
    counts = {bound: growing(per_minute if seconds <= float(bound) else 0) for bound in bounds}
    counts["+Inf"] = growing(per_minute)
    return {f'{name}{{{AGENT}="{agent}",le="{le}"}}': values for le, values in counts.items()}


_CPU = threshold("high_cpu")
AGENT_HIGH_CPU = AlertRule(
    name="OtelAgentsAgentHighCpu",
    service="agents",
    expr=f"max by ({AGENT}) ({metric(sc.AGENT_CPU_USAGE)}){at_least('high_cpu')}",
    hold="5m",
    severity=severity("high_cpu"),
    summary=f"Agent {template(AGENT)} uses {_CPU:g}% CPU or more",
    description=(
        f"{sc.AGENT_CPU_USAGE.name} at {_CPU:g}% or above for 5 minutes (in process: high_cpu)."
    ),
    fires=Case({_of(sc.AGENT_CPU_USAGE, "planner"): steady(95)}, {AGENT: "planner"}),
    quiet=Case({_of(sc.AGENT_CPU_USAGE, "planner"): steady(40)}),
    more=(
        Case(
            {_of(sc.AGENT_CPU_USAGE, "busy"): steady(87)},
            {AGENT: "busy"},
            name="87% CPU, as the in-process rule",
        ),
    ),
)

_SLOW = threshold("slow_agent")
_P95 = (
    f"histogram_quantile(0.95, sum by (le, {AGENT}) ({_rate(bucket(sc.AGENT_RESPONSE_DURATION))}))"
)
SLOW_AGENT = AlertRule(
    name="OtelAgentsSlowAgent",
    service="agents",
    expr=f"{_P95}{at_least('slow_agent')}",
    hold="5m",
    severity=severity("slow_agent"),
    summary=f"Agent {template(AGENT)} responds slowly (p95 {_SLOW:g} s or more)",
    description=(
        f"95th percentile of {sc.AGENT_RESPONSE_DURATION.name} over 5 minutes at {_SLOW:g} s "
        "or above (in process: slow_agent)."
    ),
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
)

_ERROR_RATE = threshold("high_error_rate")
_REPORTED = f"max by ({AGENT}) ({metric(sc.AGENT_ERROR_RATE)})"
_REQUESTS = f"sum by ({AGENT}) ({_rate(metric(sc.AGENT_REQUESTS))})"
_COUNTED = f"100 * sum by ({AGENT}) ({_rate(metric(sc.AGENT_ERRORS))}) / ({_REQUESTS} > 0)"
AGENT_HIGH_ERROR_RATE = AlertRule(
    name="OtelAgentsAgentHighErrorRate",
    service="agents",
    # As in process: the agent's reported error rate, else errors over requests in the window.
    expr=(
        f"({_REPORTED}{at_least('high_error_rate')}) or "
        f"({_COUNTED}{at_least('high_error_rate')} unless on ({AGENT}) {_REPORTED})"
    ),
    hold="5m",
    severity=severity("high_error_rate"),
    summary=f"Agent {template(AGENT)} fails {_ERROR_RATE:g}% of its operations or more",
    description=(
        f"{sc.AGENT_ERROR_RATE.name} (or {sc.AGENT_ERRORS.name} over {sc.AGENT_REQUESTS.name}, "
        "5-minute rate, for an agent "
        f"that reports no rate) at {_ERROR_RATE:g}% or above for 5 minutes (in process: "
        "high_error_rate)."
    ),
    fires=Case({_of(sc.AGENT_ERROR_RATE, "flaky"): steady(40)}, {AGENT: "flaky"}),
    quiet=Case({_of(sc.AGENT_ERROR_RATE, "flaky"): steady(2)}),
    more=(
        Case(
            {
                _of(sc.AGENT_REQUESTS, "flaky"): growing(60),
                _of(sc.AGENT_ERRORS, "flaky"): growing(12),
            },
            {AGENT: "flaky"},
            name="12 errors in 60 requests a minute, no reported rate",
        ),
        Case(
            {
                _of(sc.AGENT_REQUESTS, "flaky"): growing(60),
                _of(sc.AGENT_ERRORS, "flaky"): growing(1),
            },
            name="1 error in 60 requests a minute",
        ),
        Case(
            {_of(sc.AGENT_ERROR_RATE, "flaky"): steady(3), **_counted("flaky", 60, 12)},
            name="the reported rate (3%) wins over the counted one, as in process",
        ),
        Case(
            {_of(sc.AGENT_ERRORS, "flaky"): growing(5)},
            name="errors with no request counted",
        ),
    ),
)

_DOWN = selector(metric(sc.AGENT_REGISTRY_AGENTS), {sc.AGENT_STATUS: down_statuses()})
_DOWN_AT = threshold("agent_offline")


def _registry(status: str, count: float) -> dict[str, str]:
    return {
        host_series(metric(sc.AGENT_REGISTRY_AGENTS), **{sc.AGENT_STATUS: status}): steady(count)
    }


AGENT_OFFLINE = AlertRule(
    name="OtelAgentsAgentOffline",
    service="agents",
    expr=f"sum by (job, instance) ({_DOWN}){at_least('agent_offline')}",
    hold="1m",
    severity=severity("agent_offline"),
    summary=f"The registry at {template('instance')} reports agents offline or in error",
    description=(
        f"{sc.AGENT_REGISTRY_AGENTS.name} with {sc.AGENT_STATUS} {down_statuses()[2:]} at "
        f"{_DOWN_AT:g} or more for 1 minute (in process: agent_offline). Each process counts "
        "the agents it runs."
    ),
    fires=Case(_registry("offline", 1), HOST),
    quiet=Case({**_registry("offline", 0), **_registry("error", 0), **_registry("online", 3)}),
    more=(
        Case(
            {**_registry("online", 0), **_registry("offline", 0), **_registry("error", 1)},
            HOST,
            name="an agent in status error, as the in-process rule",
        ),
    ),
)
