"""Every panel of the AI usage board shows data from the demo's model calls, in a real Prometheus.

The demo's swarm (``otel_agents._demo.Swarm``) runs with its fake model server: its agents
ask models, run tools and fail some of both on purpose (``otel_agents._demo_ai``). Their GenAI
telemetry goes to a MeterProvider served for scraping; a real Prometheus scrapes it every
second. Then every query of the committed ``otel-agents-ai.json``, template variables at "All",
must return a number, and what the board shows must agree with what the demo did.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _prometheus import MODULE_TIMEOUT
from stackgen.boards_ai import AI_USAGE
from stackgen.queries import dashboard_queries
from stackgen.rules_ai import (
    AGENT_HOURLY_COST_BUDGET_USD,
    AGENT_TOKENS_PER_SECOND_BUDGET,
    AI_RULES,
)

from otel_agents._demo import Swarm
from otel_agents._demo_ai import MODELS, UNPRICED_MODEL
from otel_agents.genai._telemetry import GenAITelemetry, reset_default_telemetry

if TYPE_CHECKING:
    from tests.e2e.conftest import MetricsTarget, Prometheus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(MODULE_TIMEOUT)]

BOARD = Path(__file__).resolve().parents[2] / "grafana" / "dashboards" / AI_USAGE.file_name
#: How long the swarm works before each scrape: enough for tool errors and scripted 503s.
ROUND_SECONDS = 2.0
DATA_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def swarm(dashboard_target: MetricsTarget, dashboard_prometheus: Prometheus) -> Iterator[Swarm]:
    """The demo swarm, its GenAI telemetry on the scraped provider, two scraped rounds."""
    reset_default_telemetry(GenAITelemetry(meter_provider=dashboard_target.meter_provider))
    try:
        with Swarm(configure_telemetry=False, refresh=1.0) as running:
            for _round in range(2):
                running.run_for(ROUND_SECONDS)
                dashboard_prometheus.wait_for_scrape_after(time.time())
            yield running  # still working: rates stay fresh while the queries run
    finally:
        reset_default_telemetry()


def _has_number(result: list[dict[str, Any]]) -> bool:
    return any(not math.isnan(float(sample["value"][1])) for sample in result)


def test_every_panel_query_of_the_ai_usage_board_returns_data(
    dashboard_prometheus: Prometheus, swarm: Swarm
) -> None:
    queries = dashboard_queries([BOARD])
    pending = {q.expr: q for q in queries}
    deadline = time.monotonic() + DATA_TIMEOUT
    for _attempt in range(int(DATA_TIMEOUT) + 1):
        for expr in list(pending):
            if _has_number(dashboard_prometheus.query_once(expr)):
                del pending[expr]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(1.0)

    assert len(queries) == sum(len(p.queries) for p in AI_USAGE.panels())
    empty = [f"{q.panel} [{q.ref_id}]: {q.expr}" for q in pending.values()]
    assert empty == [], "panels without data:\n" + "\n".join(empty)


def test_the_board_attributes_tokens_cost_and_errors_as_the_demo_made_them(
    dashboard_prometheus: Prometheus, swarm: Swarm
) -> None:
    def labels(promql: str, name: str) -> set[str]:
        return {s["metric"].get(name, "") for s in dashboard_prometheus.query(promql)}

    assert labels("sum by (gen_ai_agent_id) (agent_model_calls_total)", "gen_ai_agent_id") == set(
        MODELS
    )
    # Only priced models cost something; the unpriced one is counted as such.
    priced = {m for m in MODELS.values() if m != UNPRICED_MODEL}
    cost = "sum by (gen_ai_request_model) (agent_model_cost_total) > 0"
    assert labels(cost, "gen_ai_request_model") == priced
    unpriced = "sum by (gen_ai_request_model) (agent_model_unpriced_total)"
    assert labels(unpriced, "gen_ai_request_model") == {UNPRICED_MODEL}
    reasons = "sum by (agent_model_finish_reason) (agent_model_calls_total)"
    assert labels(reasons, "agent_model_finish_reason") >= {"stop", "length", "tool_calls"}
    failed = 'sum by (error_type) (agent_model_calls_total{error_type!=""})'
    assert labels(failed, "error_type") != set()
    tool_errors = 'sum by (error_type) (agent_tool_calls_total{error_type!=""})'
    assert labels(tool_errors, "error_type") == {"ToolFailed"}
    # The per-conversation rollup: the planner's and the researcher's calls for one task.
    conversations = "sum by (gen_ai_conversation_id) (agent_conversation_cost)"
    found = labels(conversations, "gen_ai_conversation_id")
    assert found
    assert all(c.startswith("task-") for c in found)
    both = "count by (gen_ai_conversation_id) (agent_conversation_cost) > 1"
    assert dashboard_prometheus.query(both), "no conversation summed over two agents"


def test_the_budget_rules_measure_each_agent_of_the_demo(
    dashboard_prometheus: Prometheus, swarm: Swarm
) -> None:
    """Each budget rule's expression, its budget set to 0, finds every agent that spends:
    the rules select real series by agent (promtool proves thresholds and hold times)."""
    rules = {rule.name: rule for rule in AI_RULES}
    cost = rules["OtelAgentsAgentCostBudget"].expr
    tokens = rules["OtelAgentsAgentTokenBudget"].expr
    spending = {agent for agent, model in MODELS.items() if model != UNPRICED_MODEL}

    for expr, agents in (
        (cost.replace(f"> {AGENT_HOURLY_COST_BUDGET_USD:g}", "> 0"), spending),
        (tokens.replace(f"> {AGENT_TOKENS_PER_SECOND_BUDGET:g}", "> 0"), set(MODELS)),
    ):
        assert expr.endswith("> 0")
        found = {s["metric"]["gen_ai_agent_id"] for s in dashboard_prometheus.query(expr)}
        assert found == agents, expr
