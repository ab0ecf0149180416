"""docs/runbook.md: one section per alert rule, the page every ``runbook_url`` points to.

What each alert means comes from the rule itself (summary, expression, hold time, labels);
what to check first and how to fix it is written here, per rule. A rule without an entry
fails generation, so a new rule cannot ship without its runbook section.
"""

from __future__ import annotations

import re

from .alerting import AlertRule

__all__ = ["STEPS", "runbook"]

_LOGS = "`docker compose logs --tail 100 {}`"
#: For each rule: (first checks, fixes).
STEPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "OtelAgentsHostHighCpu": (
        ("System dashboard, CPU panel: which host and since when.", "`top` on the host."),
        ("Scale out or move agents to another host; lower the demo's load.",),
    ),
    "OtelAgentsAgentHighCpu": (
        ("Agent performance dashboard: the agent's CPU and response time.",),
        ("Profile the agent (otel_agents._profiler); give it more CPU or split its work.",),
    ),
    "OtelAgentsMemoryPressure": (
        ("System dashboard, memory panel.", "`docker stats`: which container grows."),
        ("Raise the container's memory limit or find the leak; see the profiler's snapshots.",),
    ),
    "OtelAgentsSlowAgent": (
        (
            "Agent performance dashboard: p95 by agent.",
            "Jaeger: the agent's slowest traces (exemplars link there).",
        ),
        ("Fix the slow dependency the traces show; raise the agent's capacity.",),
    ),
    "OtelAgentsLowHealthScore": (
        ("System dashboard, health scores: which scope and agent.", "The alerts it raised."),
        ("Fix what lowers the score (errors, latency, offline agents); see the other alerts.",),
    ),
    "OtelAgentsAgentOffline": (
        ("Communication dashboard: registered agents by status.", _LOGS.format("hub")),
        ("Restart the agent; check it can reach the hub and heartbeats (--hub, the token).",),
    ),
    "OtelAgentsAgentHighErrorRate": (
        (
            "Agent performance dashboard: errors by type and error rate for the agent.",
            "Jaeger: the agent's failed spans (status error) and their exceptions.",
        ),
        ("Fix the failing dependency or input the errors name; roll back a bad release.",),
    ),
    "OtelAgentsHeartbeatMissing": (
        ("Is the agent's process running?", _LOGS.format("agent-<id>")),
        ("Restart the agent; check its network path and token to the hub.",),
    ),
    "OtelAgentsGatewayHigh5xxRatio": (
        ("API gateway dashboard: 5xx by service and upstream errors.", _LOGS.format("gateway")),
        ("Fix or restart the failing upstream; the health checks take it out of rotation.",),
    ),
    "OtelAgentsUpstreamUnhealthy": (
        ("API gateway dashboard: healthy instances.", "`curl` the upstream's health path."),
        ("Restart the upstream; check the gateway's health-check path and timeout.",),
    ),
    "OtelAgentsRateLimitSaturation": (
        ("API gateway dashboard: 429s by service and scope.", "Which client sends most."),
        ("Raise the service's rate limit (docs/gateway.md) or slow the client down.",),
    ),
    "OtelAgentsUpstreamConnectionsExhausted": (
        ("API gateway dashboard: upstream latency and errors by type.",),
        ("Raise max_connections_per_upstream (docs/gateway.md) or speed the upstream up.",),
    ),
    "OtelAgentsMessagesDeadLettered": (
        (
            "Which messages, why: `GET /dead-letters` on the hub (messaging_system "
            "otel_agents); on NATS `comm.get_dead_letters()` or the stream OTEL_AGENTS_DLQ.",
            "Is the recipient alive? Does its handler raise (redeliveries first)?",
        ),
        ("Fix the recipient, then resend the messages (docs/messaging.md).",),
    ),
    "OtelAgentsAgentCostBudget": (
        (
            "AI usage dashboard, agent <gen_ai_agent_id>: cost by agent and by model; since "
            "when, and which model.",
            "Top conversations by cost: one runaway conversation, or many ordinary ones?",
            "Jaeger: the agent's `invoke_agent` spans carry the conversation's tokens and cost.",
        ),
        (
            "A loop (the agent calls the model again and again for one task): stop it, and cap "
            "the agent's model calls per task in its code.",
            "A change of model: move the agent back to a cheaper one.",
            "More work, on purpose: raise AGENT_HOURLY_COST_BUDGET_USD in "
            "grafana/stackgen/rules_ai.py and run scripts/generate-stack; check the price "
            "table (OTEL_AGENTS_GENAI_PRICES) is current.",
        ),
    ),
    "OtelAgentsAgentTokenBudget": (
        (
            "AI usage dashboard: tokens per second by agent (input or output?) and by model.",
            "Model calls by finish reason: many `length` finishes mean answers cut short "
            "and retried.",
        ),
        (
            "Input tokens: the agent sends too much context (whole histories, documents); "
            "trim or summarise it.",
            "Output tokens: cap max_tokens for the agent's calls.",
            "Expected load: raise AGENT_TOKENS_PER_SECOND_BUDGET in "
            "grafana/stackgen/rules_ai.py and run scripts/generate-stack.",
        ),
    ),
    "OtelAgentsConsumerLagGrowing": (
        (
            "Communication dashboard, Delivery row: lag and its trend per consumer, and "
            "redeliveries (a handler that fails keeps its messages coming back).",
            "Is the agent running and connected to the broker? " + _LOGS.format("agent-<id>"),
            "The broker's view of the consumer: `docker compose exec nats wget -qO- "
            "'http://127.0.0.1:8222/jsz?consumers=true'` (num_pending, num_ack_pending).",
        ),
        (
            "Start a stopped agent: it resumes from its durable consumer, nothing is lost.",
            "Speed up the handler or give the agent more CPU; fix a handler that raises "
            "(its messages end as dead letters after the bounded attempts).",
        ),
    ),
    "OtelAgentsCollectorDown": (
        (
            "`docker compose ps otel-collector`; " + _LOGS.format("otel-collector") + ".",
            "Its health: `curl localhost:13133`.",
        ),
        (
            "Restart it (`docker compose up -d otel-collector`); an out-of-memory kill means "
            "its memory limit is too low for the load (README, resource limits).",
        ),
    ),
    "OtelAgentsCollectorExportFailing": (
        (
            "Pipeline dashboard: failed sends by exporter.",
            "Is the backend (Jaeger for otlp_grpc/jaeger) up? " + _LOGS.format("jaeger") + ".",
            _LOGS.format("otel-collector") + ": the exporter's error.",
        ),
        ("Restart or fix the backend; the data of the failed period is lost.",),
    ),
    "OtelAgentsCollectorRefusingData": (
        (
            "Pipeline dashboard: refused items and the Collector's memory.",
            _LOGS.format("otel-collector") + ": memory_limiter messages.",
        ),
        (
            "Raise the container's memory limit and the memory_limiter with it "
            "(collector/otel-collector.yaml), or reduce what the services send.",
        ),
    ),
    "OtelAgentsCollectorQueueNearlyFull": (
        ("Pipeline dashboard: queue size by exporter.", "Is the backend slow or down?"),
        ("Fix the backend; a larger sending_queue buys time, at the price of memory.",),
    ),
    "OtelAgentsCollectorDroppingData": (
        ("Pipeline dashboard: queue size and failed sends.", "The backend's health."),
        ("Fix the backend first; then size sending_queue for the outages you expect.",),
    ),
    "OtelAgentsServiceStoppedExporting": (
        (
            "Is the service running? `docker compose ps`.",
            "Its logs: OTLP export errors (endpoint, TLS, auth).",
            "Did the Collector stop too? That alert suppresses this one in Alertmanager.",
        ),
        (
            "Restart the service, or fix OTEL_EXPORTER_OTLP_ENDPOINT. A service removed on "
            "purpose stops alerting after the rule's window; silence it meanwhile.",
        ),
    ),
    "OtelAgentsServiceLosingTelemetry": (
        (
            'Pipeline dashboard, row "The services\' SDKs": lost items by signal and service.',
            "Was the Collector down or refusing just before (OtelAgentsCollectorDown, "
            "OtelAgentsCollectorRefusingData)? Then this is that outage's bill.",
            "The service's logs: OTLP export errors (endpoint, TLS, timeouts) or a full "
            "queue (error_type queue_full).",
        ),
        (
            "Fix what the failed exports name; a full queue needs a larger "
            "OTEL_BSP_MAX_QUEUE_SIZE / OTEL_BLRP_MAX_QUEUE_SIZE or a faster Collector. The lost "
            "data is gone; the alert resolves by itself after the rule's window.",
        ),
    ),
}

_HEADER = """# Runbook: the stack's alerts

<!-- Generated by grafana/generate.py from grafana/stackgen (rules and runbook): do not edit. -->

One section per alert rule of `prometheus/rules/otel-agents.rules.yml`; each alert's
`runbook_url` annotation links to its section. Every alert carries `severity` (`warning`: look
today; `critical`: look now) and `service`, the part of the stack it is about; Alertmanager
groups notifications by both (`alertmanager/alertmanager.yml`). Silence a known alert in
Alertmanager's UI or API (http://localhost:9093) rather than editing the rule.
"""


def _placeholders(text: str) -> str:
    """``{{ $labels.agent }}`` as ``<agent>``: the runbook speaks of any alert of the rule."""
    return re.sub(r"{{ \$labels\.([a-zA-Z0-9_]+) }}", r"<\1>", text)


def _section(rule: AlertRule) -> str:
    checks, fixes = STEPS[rule.name]
    service = f"`{rule.service}`" if rule.service else "the service it names"
    lines = [
        f"## {rule.name}",
        "",
        f"**Severity** `{rule.severity}`, **service** {service}, after {rule.hold}.",
        "",
        f"**Means**: {_placeholders(rule.summary)}. {_placeholders(rule.description)}",
        "",
        "```promql",
        rule.expr,
        "```",
        "",
        "**First checks**",
        "",
        *(f"- {check}" for check in checks),
        "",
        "**Fixes**",
        "",
        *(f"- {fix}" for fix in fixes),
        "",
    ]
    return "\n".join(lines)


def runbook(rules: tuple[AlertRule, ...]) -> str:
    """The runbook's Markdown for ``rules`` (KeyError for a rule without :data:`STEPS`)."""
    return "\n".join([_HEADER, *(_section(rule) for rule in rules)])
