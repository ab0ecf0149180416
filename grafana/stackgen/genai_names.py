"""The GenAI metrics and attribute keys the "AI usage" board and the budget rules select.

``otel_agents.genai`` (issue 13) declares them in :mod:`otel_agents.semconv`; this module
takes each from there by its constant's name. Until a checkout carries that constant, the
spec of the agreed contract stands in (same name, kind and unit, so the same Prometheus
names), and :data:`STAND_INS` lists the ones in use: the generator's series-name checks
(:mod:`.scope`, ``tests/stack/test_generated.py``) accept them only while they stand in.
"""

from __future__ import annotations

from otel_agents import semconv as sc
from otel_agents.semconv import InstrumentKind, MetricSpec

__all__ = [
    "AGENT_CONVERSATION_COST",
    "AGENT_CONVERSATION_TOKENS",
    "AGENT_MODEL_CALLS",
    "AGENT_MODEL_COST",
    "AGENT_MODEL_FINISH_REASON",
    "AGENT_MODEL_UNPRICED",
    "AGENT_TOOL_CALLS",
    "GEN_AI_CLIENT_OPERATION_DURATION",
    "GEN_AI_CLIENT_TOKEN_USAGE",
    "GEN_AI_CONVERSATION_ID",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_TOKEN_TYPE",
    "GEN_AI_TOOL_NAME",
    "STAND_INS",
]

STAND_INS: list[MetricSpec] = []


def _spec(constant: str, stand_in: MetricSpec) -> MetricSpec:
    found = getattr(sc, constant, None)
    if isinstance(found, MetricSpec):
        return found
    STAND_INS.append(stand_in)
    return stand_in


def _key(constant: str, stand_in: str) -> str:
    found = getattr(sc, constant, None)
    return found if isinstance(found, str) else stand_in


GEN_AI_CONVERSATION_ID = _key("GEN_AI_CONVERSATION_ID", "gen_ai.conversation.id")
GEN_AI_PROVIDER_NAME = _key("GEN_AI_PROVIDER_NAME", "gen_ai.provider.name")
GEN_AI_REQUEST_MODEL = _key("GEN_AI_REQUEST_MODEL", "gen_ai.request.model")
GEN_AI_TOKEN_TYPE = _key("GEN_AI_TOKEN_TYPE", "gen_ai.token.type")
GEN_AI_TOOL_NAME = _key("GEN_AI_TOOL_NAME", "gen_ai.tool.name")
AGENT_MODEL_FINISH_REASON = _key("AGENT_MODEL_FINISH_REASON", "agent.model.finish_reason")

GEN_AI_CLIENT_TOKEN_USAGE = _spec(
    "GEN_AI_CLIENT_TOKEN_USAGE",
    MetricSpec(
        "gen_ai.client.token.usage",
        InstrumentKind.HISTOGRAM,
        "{token}",
        "Input and output tokens used per model call.",
    ),
)
GEN_AI_CLIENT_OPERATION_DURATION = _spec(
    "GEN_AI_CLIENT_OPERATION_DURATION",
    MetricSpec(
        "gen_ai.client.operation.duration",
        InstrumentKind.HISTOGRAM,
        "s",
        "Duration of model calls.",
    ),
)
AGENT_MODEL_COST = _spec(
    "AGENT_MODEL_COST",
    MetricSpec("agent.model.cost", InstrumentKind.COUNTER, "{USD}", "Cost of model calls."),
)
AGENT_MODEL_UNPRICED = _spec(
    "AGENT_MODEL_UNPRICED",
    MetricSpec(
        "agent.model.unpriced",
        InstrumentKind.COUNTER,
        "{call}",
        "Model calls of models without a price.",
    ),
)
AGENT_MODEL_CALLS = _spec(
    "AGENT_MODEL_CALLS",
    MetricSpec("agent.model.calls", InstrumentKind.COUNTER, "{call}", "Model calls."),
)
AGENT_TOOL_CALLS = _spec(
    "AGENT_TOOL_CALLS",
    MetricSpec("agent.tool.calls", InstrumentKind.COUNTER, "{call}", "Tool executions."),
)
AGENT_CONVERSATION_COST = _spec(
    "AGENT_CONVERSATION_COST",
    MetricSpec(
        "agent.conversation.cost",
        InstrumentKind.OBSERVABLE_GAUGE,
        "{USD}",
        "This process's cost of a conversation.",
    ),
)
AGENT_CONVERSATION_TOKENS = _spec(
    "AGENT_CONVERSATION_TOKENS",
    MetricSpec(
        "agent.conversation.tokens",
        InstrumentKind.OBSERVABLE_GAUGE,
        "{token}",
        "This process's tokens of a conversation.",
    ),
)
