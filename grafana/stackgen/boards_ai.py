"""The "AI usage" dashboard: what the agents' model calls and tools use, take and cost.

Fed by ``otel_agents.genai`` (docs/genai.md): the GenAI conventions' client histograms
(``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration``) and our own counters
and gauges (``agent.model.*``, ``agent.tool.calls``, ``agent.conversation.*``). Cost is in US
dollars as the price table gives it; "per hour" panels are the per-second rate times 3600, so
they read as a spend rate right away. The budget rules (:mod:`.rules_ai`) watch the same
series per agent.
"""

from __future__ import annotations

from otel_agents import semconv as sc

from .model import Board, Kind, Link, Panel, Query, Row, Variable
from .names import count, label, metric, selector, total
from .promql import AGENT, AGENT_FILTER, legend, percentiles, rate, stat, sum_by, ts

__all__ = ["AI_USAGE", "ALL_SERIES", "COST_UNIT", "TOP_CONVERSATIONS"]

#: Grafana's unit for US dollars (the price table's currency).
COST_UNIT = "currencyUSD"
#: How many conversations the "top conversations" tables list.
TOP_CONVERSATIONS = 10

MODEL = label(sc.GEN_AI_REQUEST_MODEL)
PROVIDER = label(sc.GEN_AI_PROVIDER_NAME)
TOKEN_TYPE = label(sc.GEN_AI_TOKEN_TYPE)
TOOL = label(sc.GEN_AI_TOOL_NAME)
FINISH_REASON = label(sc.AGENT_MODEL_FINISH_REASON)
CONVERSATION = label(sc.GEN_AI_CONVERSATION_ID)
ERROR = label(sc.ERROR_TYPE)

_SCOPE = {**AGENT_FILTER, sc.GEN_AI_REQUEST_MODEL: "=~$model"}
_TOKENS = selector(total(sc.GEN_AI_CLIENT_TOKEN_USAGE), _SCOPE)
_COST = selector(metric(sc.AGENT_MODEL_COST), _SCOPE)
_CALLS = selector(metric(sc.AGENT_MODEL_CALLS), _SCOPE)
_TOOLS = selector(metric(sc.AGENT_TOOL_CALLS), AGENT_FILTER)
_TOOL_ERRORS = selector(metric(sc.AGENT_TOOL_CALLS), {**AGENT_FILTER, sc.ERROR_TYPE: "!="})
_UNPRICED = selector(metric(sc.AGENT_MODEL_UNPRICED), {sc.GEN_AI_REQUEST_MODEL: "=~$model"})
_CONVERSATION_COST = selector(metric(sc.AGENT_CONVERSATION_COST), AGENT_FILTER)
_CONVERSATION_TOKENS = selector(metric(sc.AGENT_CONVERSATION_TOKENS), AGENT_FILTER)

#: What "All" of this board's variables matches: every series, those without the label
#: included (an absent label matches ``.*``, not ``.+``). Model calls, tools and conversations
#: outside any agent carry no ``gen_ai.agent.id`` (a top-level ``genai.model_call``, an
#: official instrumentation's call priced by the span processor), and they cost as much.
ALL_SERIES = ".*"
AGENT_VARIABLE = Variable("agent", "Agent", metric(sc.AGENT_MODEL_CALLS), AGENT, ALL_SERIES)
MODEL_VARIABLE = Variable(
    "model", "Model", count(sc.GEN_AI_CLIENT_OPERATION_DURATION), MODEL, ALL_SERIES
)

#: From an agent's series to the Agent performance board, narrowed to that agent.
AGENT_PERFORMANCE = Link(
    "Agent performance of this agent",
    f"/d/otel-agents-performance?var-agent=${{__field.labels.{AGENT}}}&${{__url_time_range}}",
    data=True,
)


def _per_hour(expr: str) -> str:
    return f"3600 * {expr}"


def _top(expr: str) -> str:
    return f"topk({TOP_CONVERSATIONS}, {expr})"


def _linked(panel: Panel, *links: Link) -> Panel:
    return Panel(panel.title, panel.kind, panel.queries, panel.unit, panel.description, links=links)


AI_USAGE = Board(
    uid="otel-agents-ai",
    title="otel-agents / AI usage",
    description=(
        "Which agents call which models, how many tokens they use and what it costs, how fast "
        "the models answer, how the tools fare, and which conversations cost most?"
    ),
    variables=(AGENT_VARIABLE, MODEL_VARIABLE),
    tags=("genai",),
    rows=(
        Row(
            "Overview",
            (
                stat(
                    "Tokens per second",
                    sum_by(rate(_TOKENS)),
                    "short",
                    "gen_ai.client.token.usage: input and output tokens per second, every "
                    "selected agent and model.",
                ),
                stat(
                    "Spend rate",
                    _per_hour(sum_by(rate(_COST))),
                    f"{COST_UNIT}",
                    "agent.model.cost: US dollars per hour at the current rate (the price "
                    "table's prices; unpriced models count nothing).",
                ),
                stat(
                    "Model calls per second",
                    sum_by(rate(_CALLS)),
                    "reqps",
                    "agent.model.calls per second, failed ones included.",
                ),
                stat(
                    "Unpriced calls per second",
                    sum_by(rate(_UNPRICED)),
                    "reqps",
                    "agent.model.unpriced: calls of models the price table does not list; "
                    "their cost is missing from every cost panel (docs/genai.md, prices).",
                ),
            ),
        ),
        Row(
            "Tokens and cost",
            (
                _linked(
                    ts(
                        "Tokens per second by agent",
                        [
                            Query(
                                sum_by(rate(_TOKENS), AGENT, TOKEN_TYPE),
                                legend(AGENT, TOKEN_TYPE),
                            )
                        ],
                        "short",
                        "gen_ai.client.token.usage per second by agent and token type "
                        "(input, output).",
                    ),
                    AGENT_PERFORMANCE,
                ),
                ts(
                    "Tokens per second by model",
                    [
                        Query(
                            sum_by(rate(_TOKENS), PROVIDER, MODEL, TOKEN_TYPE),
                            legend(PROVIDER, MODEL, TOKEN_TYPE),
                        )
                    ],
                    "short",
                    "gen_ai.client.token.usage per second by provider, requested model and "
                    "token type.",
                ),
                _linked(
                    ts(
                        "Cost by agent (per hour)",
                        [Query(_per_hour(sum_by(rate(_COST), AGENT)), legend(AGENT))],
                        COST_UNIT,
                        "agent.model.cost: US dollars per hour by agent. The budget alert "
                        "OtelAgentsAgentCostBudget watches the last hour of it per agent.",
                    ),
                    AGENT_PERFORMANCE,
                ),
                ts(
                    "Cost by model (per hour)",
                    [
                        Query(
                            _per_hour(sum_by(rate(_COST), PROVIDER, MODEL)),
                            legend(PROVIDER, MODEL),
                        )
                    ],
                    COST_UNIT,
                    "agent.model.cost: US dollars per hour by provider and requested model.",
                ),
            ),
        ),
        Row(
            "Model calls",
            (
                ts(
                    "Model latency percentiles by model",
                    percentiles(sc.GEN_AI_CLIENT_OPERATION_DURATION, MODEL, _SCOPE),
                    "s",
                    "gen_ai.client.operation.duration p50/p95/p99 by requested model.",
                ),
                ts(
                    "Model calls by finish reason",
                    [
                        Query(
                            sum_by(rate(_CALLS), FINISH_REASON, ERROR),
                            legend(FINISH_REASON, ERROR),
                        )
                    ],
                    "reqps",
                    "agent.model.calls per second by the first finish reason (stop, length, "
                    "tool_calls, ...; none when the call failed) and error.type.",
                ),
            ),
        ),
        Row(
            "Tools",
            (
                ts(
                    "Tool calls by tool",
                    [Query(sum_by(rate(_TOOLS), AGENT, TOOL), legend(AGENT, TOOL))],
                    "reqps",
                    "agent.tool.calls per second by agent and gen_ai.tool.name.",
                ),
                ts(
                    "Tool errors by tool and error type",
                    [
                        Query(
                            sum_by(rate(_TOOL_ERRORS), AGENT, TOOL, ERROR),
                            legend(AGENT, TOOL, ERROR),
                        )
                    ],
                    "reqps",
                    "agent.tool.calls that failed, per second, by tool and error.type.",
                ),
            ),
        ),
        Row(
            "Conversations",
            (
                Panel(
                    "Top conversations by cost",
                    Kind.TABLE,
                    (Query(_top(sum_by(_CONVERSATION_COST, CONVERSATION))),),
                    COST_UNIT,
                    f"The {TOP_CONVERSATIONS} most expensive conversations: "
                    "agent.conversation.cost summed over every agent and process that worked "
                    "on the conversation (each process reports its own totals of its most "
                    "expensive recent conversations).",
                ),
                Panel(
                    "Top conversations by tokens",
                    Kind.TABLE,
                    (Query(_top(sum_by(_CONVERSATION_TOKENS, CONVERSATION))),),
                    "short",
                    f"The {TOP_CONVERSATIONS} conversations that used most tokens "
                    "(agent.conversation.tokens summed across agents and processes).",
                ),
                ts(
                    "Unpriced calls by model",
                    [Query(sum_by(rate(_UNPRICED), PROVIDER, MODEL), legend(PROVIDER, MODEL))],
                    "reqps",
                    "agent.model.unpriced per second by provider and model: add these models "
                    "to the price table (OTEL_AGENTS_GENAI_PRICES) to see their cost.",
                ),
            ),
        ),
    ),
)
