"""GenAI agent telemetry: agents, tools and model calls by the GenAI semantic conventions,
with tokens and cost per agent, per model and per conversation::

    from otel_agents import genai

    @genai.invoke_agent("planner")
    def plan(task: str) -> str:
        with genai.model_call("gpt-4o", provider="openai") as call:
            response = client.chat.completions.create(model="gpt-4o", messages=...)
            call.set_usage(response.usage.prompt_tokens, response.usage.completion_tokens)
            call.set_response(model=response.model, finish_reasons=["stop"])
        with genai.execute_tool("search"):
            results = search(query)

Spans: ``invoke_agent {name}`` (INTERNAL), ``execute_tool {tool}`` (INTERNAL),
``{operation} {model}`` (CLIENT). Metrics: ``gen_ai.client.token.usage``,
``gen_ai.client.operation.duration``, ``agent.model.calls``, ``agent.model.cost``,
``agent.model.unpriced``, ``agent.tool.calls`` and the per-conversation rollup gauges
``agent.conversation.cost`` / ``agent.conversation.tokens`` (``docs/genai.md``).

Needs only the core install. The ``genai`` extra adds the official OpenAI instrumentation
and ``opentelemetry-util-genai``; ``configure()`` then attributes their spans to our agents
and prices them. A streaming answer's generator keeps its scopes inside it with
``@genai.streaming``. The names below are imported on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_agents._extras import lazy_package

if TYPE_CHECKING:
    from otel_agents.genai._agents import (
        AgentInvocation,
        ToolExecution,
        execute_tool,
        invoke_agent,
    )
    from otel_agents.genai._model import ModelCall, model_call, record_model_call
    from otel_agents.genai._prices import (
        DEFAULT_PRICES,
        DEFAULT_PRICES_DATE,
        ModelPrice,
        PriceTable,
        get_price_table,
        set_price_table,
    )
    from otel_agents.genai._processor import GenAISpanProcessor
    from otel_agents.genai._scope import ScopeActiveError
    from otel_agents.genai._stream import streaming
    from otel_agents.genai._telemetry import GenAITelemetry

# Each public name and the module that defines it, imported by __getattr__ on first use.
_SOURCES: dict[str, str] = {
    "DEFAULT_PRICES": "otel_agents.genai._prices",
    "DEFAULT_PRICES_DATE": "otel_agents.genai._prices",
    "AgentInvocation": "otel_agents.genai._agents",
    "GenAISpanProcessor": "otel_agents.genai._processor",
    "GenAITelemetry": "otel_agents.genai._telemetry",
    "ModelCall": "otel_agents.genai._model",
    "ModelPrice": "otel_agents.genai._prices",
    "PriceTable": "otel_agents.genai._prices",
    "ScopeActiveError": "otel_agents.genai._scope",
    "ToolExecution": "otel_agents.genai._agents",
    "execute_tool": "otel_agents.genai._agents",
    "get_price_table": "otel_agents.genai._prices",
    "invoke_agent": "otel_agents.genai._agents",
    "model_call": "otel_agents.genai._model",
    "record_model_call": "otel_agents.genai._model",
    "set_price_table": "otel_agents.genai._prices",
    "streaming": "otel_agents.genai._stream",
}

__all__ = [
    "DEFAULT_PRICES",
    "DEFAULT_PRICES_DATE",
    "AgentInvocation",
    "GenAISpanProcessor",
    "GenAITelemetry",
    "ModelCall",
    "ModelPrice",
    "PriceTable",
    "ScopeActiveError",
    "ToolExecution",
    "execute_tool",
    "get_price_table",
    "invoke_agent",
    "model_call",
    "record_model_call",
    "set_price_table",
    "streaming",
]


# Import a public name's module on first use and keep the name (PEP 562); dir() is __all__.
__getattr__, __dir__ = lazy_package(globals(), _SOURCES, lambda _source: None)
