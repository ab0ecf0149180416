"""Token and cost budgets per agent: alert rules on the GenAI series of ``otel_agents.genai``.

Two budgets, one alert each, per ``gen_ai.agent.id``:

* **cost**: what the agent's model calls cost over the last hour (``agent.model.cost``, US
  dollars from the price table), above :data:`AGENT_HOURLY_COST_BUDGET_USD`;
* **tokens**: the agent's input plus output tokens per second (``gen_ai.client.token.usage``)
  over 5 minutes, above :data:`AGENT_TOKENS_PER_SECOND_BUDGET`, held for 5 more minutes (a
  runaway loop, not a burst).

The budgets are the defaults of the shipped rule file, sized for a small team's development
agents; change the constants here and run ``scripts/generate-stack`` to ship your own
(docs/runbook.md, the two sections, says how to find what to set them to). Calls of unpriced
models cost nothing here (they are counted by ``agent.model.unpriced`` on the AI usage board):
the cost budget is only as complete as the price table.
"""

from __future__ import annotations

from otel_agents import semconv as sc

from .alerting import AlertRule, Case, growing, template
from .names import growth, label, metric, total

__all__ = [
    "AGENT_HOURLY_COST_BUDGET_USD",
    "AGENT_TOKENS_PER_SECOND_BUDGET",
    "AI_RULES",
    "COST_WINDOW",
    "TOKEN_WINDOW",
]

#: US dollars one agent may spend on model calls in :data:`COST_WINDOW`.
AGENT_HOURLY_COST_BUDGET_USD = 5.0
#: Input plus output tokens per second one agent may use, on average over :data:`TOKEN_WINDOW`.
AGENT_TOKENS_PER_SECOND_BUDGET = 2000.0
COST_WINDOW = "1h"
TOKEN_WINDOW = "5m"

AGENTS = "agents"  # the `service` label: the agents' part of the stack
_AGENT = label(sc.GEN_AI_AGENT_ID)
_MODEL = label(sc.GEN_AI_REQUEST_MODEL)
_PROVIDER = label(sc.GEN_AI_PROVIDER_NAME)
_TOKEN_TYPE = label(sc.GEN_AI_TOKEN_TYPE)
_COST = metric(sc.AGENT_MODEL_COST)
_TOKENS = total(sc.GEN_AI_CLIENT_TOKEN_USAGE)


def _cost(agent: str, model: str) -> str:
    return f'{_COST}{{{_AGENT}="{agent}",{_PROVIDER}="openai",{_MODEL}="{model}"}}'


def _tokens(agent: str, token_type: str) -> str:
    return (
        f'{_TOKENS}{{{_AGENT}="{agent}",{_PROVIDER}="openai",{_MODEL}="gpt-4o-mini",'
        f'{_TOKEN_TYPE}="{token_type}"}}'
    )


#: Tokens per minute in the promtool cases: above and below the budget (per second x 60).
_OVER = AGENT_TOKENS_PER_SECOND_BUDGET * 60 * 1.5
_UNDER = AGENT_TOKENS_PER_SECOND_BUDGET * 60 * 0.25

AI_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="OtelAgentsAgentCostBudget",
        service=AGENTS,
        expr=(
            f"sum by ({_AGENT}) ({growth(_COST, COST_WINDOW)}) > {AGENT_HOURLY_COST_BUDGET_USD:g}"
        ),
        # Short: the hour's sum only grows while the series exists, so a longer hold only
        # delays; and a short-lived agent's series may exist just the Collector's
        # metric_expiration (5m) after its last export, too short for a 5m hold.
        hold="1m",
        severity="warning",
        summary=(
            f"Agent {template(_AGENT)} spent more than {AGENT_HOURLY_COST_BUDGET_USD:g} USD "
            f"on model calls in the last hour"
        ),
        description=(
            f"agent.model.cost of the agent over {COST_WINDOW}, every model summed, above the "
            f"budget of {AGENT_HOURLY_COST_BUDGET_USD:g} USD (AGENT_HOURLY_COST_BUDGET_USD in "
            "grafana/stackgen/rules_ai.py), the first export of a new process included. "
            "Unpriced models are not counted."
        ),
        # 1 USD a minute: above 5 USD after 5 minutes; 0.05 USD a minute each stays far under.
        fires=Case(
            {
                _cost("planner", "gpt-4o"): growing(0.6),
                _cost("planner", "gpt-4o-mini"): growing(0.4),
            },
            {_AGENT: "planner"},
        ),
        quiet=Case(
            {
                _cost("planner", "gpt-4o"): growing(0.05),
                _cost("researcher", "gpt-4o"): growing(0.05),
            }
        ),
        more=(
            # The SDK creates the series at its first add(): Prometheus first sees it with
            # the first export already counted (a batch job's whole spend, exported at exit),
            # and the Collector serves it for its metric_expiration (5m) after that.
            Case(
                {_cost("planner", "gpt-4o"): "_x5 8x4 stale"},
                {_AGENT: "planner"},
                eval_times=("7m", "9m"),
                name="a short-lived process whose first export is over the budget",
            ),
            Case(
                {_cost("planner", "gpt-4o"): "_x5 4x4 stale"},
                eval_times=("7m", "9m"),
                name="a short-lived process under the budget",
            ),
            Case(
                {_cost("planner", "gpt-4o"): "8x80"},
                eval_times=("75m",),
                name="a spend more than the window ago",
            ),
            Case(
                {_cost("planner", "gpt-4o"): "6x70 stale _ _ 6x80"},
                eval_times=("132m", "133m"),
                name="no new spend across a Collector outage an hour ago",
            ),
            Case(
                {_cost("planner", "gpt-4o"): "6x70 stale _ _ 12x80"},
                {_AGENT: "planner"},
                eval_times=("133m",),
                name="a spend across a Collector outage an hour ago",
            ),
        ),
    ),
    AlertRule(
        name="OtelAgentsAgentTokenBudget",
        service=AGENTS,
        expr=(
            f"sum by ({_AGENT}) (rate({_TOKENS}[{TOKEN_WINDOW}])) "
            f"> {AGENT_TOKENS_PER_SECOND_BUDGET:g}"
        ),
        hold="5m",
        severity="warning",
        summary=(
            f"Agent {template(_AGENT)} uses more than {AGENT_TOKENS_PER_SECOND_BUDGET:g} "
            "tokens per second"
        ),
        description=(
            "gen_ai.client.token.usage of the agent, input and output, per second over "
            f"{TOKEN_WINDOW}, above the budget of {AGENT_TOKENS_PER_SECOND_BUDGET:g} "
            "(AGENT_TOKENS_PER_SECOND_BUDGET in grafana/stackgen/rules_ai.py) for 5 minutes."
        ),
        fires=Case(
            {
                _tokens("researcher", "input"): growing(_OVER * 0.8),
                _tokens("researcher", "output"): growing(_OVER * 0.2),
            },
            {_AGENT: "researcher"},
        ),
        quiet=Case(
            {
                _tokens("researcher", "input"): growing(_UNDER),
                _tokens("planner", "input"): growing(_UNDER),
            }
        ),
    ),
)
