"""``invoke_agent`` and ``execute_tool``: the GenAI conventions' agent and tool spans.

``invoke_agent`` is the INTERNAL span ``invoke_agent {gen_ai.agent.name}`` of an agent
running in this process. Inside it the agent and the conversation are the current
attribution (``otel_agents.genai._context``): model calls, tool executions, official
instrumentations' ``chat`` spans and messages sent carry them. The conversation defaults to
the one of the message being processed (the messaging ``process`` span puts it in context),
so a request that travels through several agents, in-process or over HTTP, stays one
conversation. At its end the span carries ``agent.conversation.cost`` /
``agent.conversation.tokens``: this process's totals so far for the conversation, visible in
Jaeger without a metrics query.

``execute_tool`` is the INTERNAL span ``execute_tool {gen_ai.tool.name}`` and one
``agent.tool.calls`` count (with ``error.type`` when the tool raised or was cancelled).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from otel_agents import semconv as sc
from otel_agents._errors import invalid_type, invalid_value
from otel_agents.genai._context import Attribution, current_attribution, with_attribution
from otel_agents.genai._scope import Scope, call_error_type_of, error_type_of, mark_failed
from otel_agents.genai._telemetry import GenAITelemetry, default_telemetry

__all__ = [
    "AgentInvocation",
    "ToolExecution",
    "check_name",
    "check_optional",
    "execute_tool",
    "invoke_agent",
]

_INTERNAL = SpanKind.INTERNAL
_MAX_NAME = 256


def check_name(parameter: str, value: Any) -> str:
    """``value`` if it is a non-empty string of at most 256 characters; else a clear error."""
    if type(value) is str and 0 < len(value) <= _MAX_NAME:  # the hot path: once per name
        return value
    if not isinstance(value, str):
        raise invalid_type(parameter, value, "a non-empty string")
    if not value or len(value) > _MAX_NAME:
        raise invalid_value(
            parameter, value, f"a non-empty string of at most {_MAX_NAME} characters"
        )
    return value


def check_optional(parameter: str, value: Any) -> str | None:
    """Like :func:`check_name`, but ``None`` is allowed."""
    return None if value is None else check_name(parameter, value)


class AgentInvocation(Scope):
    """What :func:`invoke_agent` returns: a context manager (sync and async) and decorator."""

    __slots__ = ("_attribution", "_span", "_telemetry", "agent_id", "agent_name", "conversation_id")

    def __init__(
        self,
        agent_name: str,
        agent_id: str | None = None,
        conversation_id: str | None = None,
        telemetry: GenAITelemetry | None = None,
    ) -> None:
        super().__init__()
        self.agent_name = check_name("agent_name", agent_name)
        self.agent_id = check_optional("agent_id", agent_id)
        self.conversation_id = check_optional("conversation_id", conversation_id)
        self._telemetry = telemetry
        self._span: Span | None = None
        self._attribution = Attribution()

    def _copy(self) -> AgentInvocation:
        return AgentInvocation(
            self.agent_name, self.agent_id, self.conversation_id, self._telemetry
        )

    def _start(self) -> Context:
        telemetry = self._telemetry or default_telemetry()
        self._telemetry = telemetry
        outer = current_attribution()
        conversation = self.conversation_id or outer.conversation_id
        # Without an id the name is the agent's identity in metrics (gen_ai.agent.id).
        agent_id = self.agent_id or self.agent_name
        self._attribution = Attribution(agent_id, self.agent_name, conversation)
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_INVOKE_AGENT,
            sc.GEN_AI_AGENT_NAME: self.agent_name,
            sc.GEN_AI_AGENT_ID: agent_id,
        }
        if conversation is not None:
            attributes[sc.GEN_AI_CONVERSATION_ID] = conversation
        span = telemetry.tracer.start_span(
            sc.GEN_AI_INVOKE_AGENT_SPAN.format(agent_name=self.agent_name),
            kind=_INTERNAL,
            attributes=attributes,
        )
        self._span = span
        return with_attribution(self._attribution, trace.set_span_in_context(span))

    def _finish(self, exc: BaseException | None) -> None:
        span, self._span = self._span, None
        if span is None:
            return
        try:
            error_type = error_type_of(exc)
            if exc is not None and error_type is not None:
                mark_failed(span, exc, error_type)
            conversation = self._attribution.conversation_id
            if conversation is not None and self._telemetry is not None:
                cost, tokens = self._telemetry.conversations.total(conversation)
                span.set_attribute(sc.AGENT_CONVERSATION_COST_ATTRIBUTE, cost)
                span.set_attribute(sc.AGENT_CONVERSATION_TOKENS_ATTRIBUTE, tokens)
        finally:
            span.end()


class ToolExecution(Scope):
    """What :func:`execute_tool` returns: a context manager (sync and async) and decorator."""

    __slots__ = ("_agent_id", "_span", "_telemetry", "call_id", "tool_name", "tool_type")

    def __init__(
        self,
        tool_name: str,
        call_id: str | None = None,
        tool_type: str = sc.GEN_AI_TOOL_TYPE_FUNCTION,
        telemetry: GenAITelemetry | None = None,
    ) -> None:
        super().__init__()
        self.tool_name = check_name("tool_name", tool_name)
        self.call_id = check_optional("call_id", call_id)
        self.tool_type = check_name("tool_type", tool_type)
        self._telemetry = telemetry
        self._span: Span | None = None
        self._agent_id: str | None = None

    def _copy(self) -> ToolExecution:
        return ToolExecution(self.tool_name, self.call_id, self.tool_type, self._telemetry)

    def _start(self) -> Context:
        telemetry = self._telemetry or default_telemetry()
        self._telemetry = telemetry
        attribution = current_attribution()
        self._agent_id = attribution.agent_id
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_EXECUTE_TOOL,
            sc.GEN_AI_TOOL_NAME: self.tool_name,
            sc.GEN_AI_TOOL_TYPE: self.tool_type,
        }
        if self.call_id is not None:
            attributes[sc.GEN_AI_TOOL_CALL_ID] = self.call_id
        if attribution.agent_id is not None:
            attributes[sc.GEN_AI_AGENT_ID] = attribution.agent_id
        span = telemetry.tracer.start_span(
            sc.GEN_AI_EXECUTE_TOOL_SPAN.format(tool_name=self.tool_name),
            kind=_INTERNAL,
            attributes=attributes,
        )
        self._span = span
        return trace.set_span_in_context(span)

    def _finish(self, exc: BaseException | None) -> None:
        span, self._span = self._span, None
        if span is None or self._telemetry is None:
            return
        error_type = call_error_type_of(exc)  # a tool cut off by a cancellation did not finish
        try:
            if exc is not None and error_type is not None:
                mark_failed(span, exc, error_type)
            self._telemetry.record_tool(self.tool_name, self._agent_id, error_type)
        finally:
            span.end()


def invoke_agent(
    agent_name: str, *, agent_id: str | None = None, conversation_id: str | None = None
) -> AgentInvocation:
    """Mark one invocation of an agent: a span, and the attribution of the work inside it.

    Use it as a context manager (``with`` / ``async with``) or a decorator (sync or async
    function; each call is one invocation)::

        with genai.invoke_agent("planner", conversation_id=request_id):
            plan = llm(...)

    Args:
        agent_name: ``gen_ai.agent.name``; the span is ``invoke_agent {agent_name}``.
        agent_id: ``gen_ai.agent.id``, the agent's identity in every metric recorded inside;
            the name when not given.
        conversation_id: ``gen_ai.conversation.id``; by default the conversation of the
            message being processed (messaging ``process`` span), or of an enclosing
            ``invoke_agent``.

    Raises:
        InvalidTypeError, InvalidValueError: a name or id that is not a non-empty string.
    """
    return AgentInvocation(agent_name, agent_id, conversation_id)


def execute_tool(
    tool_name: str, *, call_id: str | None = None, tool_type: str = sc.GEN_AI_TOOL_TYPE_FUNCTION
) -> ToolExecution:
    """Mark one tool execution: span ``execute_tool {tool_name}`` and ``agent.tool.calls``.

    Context manager (sync and async) or decorator, like :func:`invoke_agent`.

    Args:
        tool_name: ``gen_ai.tool.name``.
        call_id: ``gen_ai.tool.call.id``, the id the model gave the tool call.
        tool_type: ``gen_ai.tool.type``: ``function`` (default), ``extension`` or
            ``datastore`` in the conventions.

    Raises:
        InvalidTypeError, InvalidValueError: a name that is not a non-empty string.
    """
    return ToolExecution(tool_name, call_id, tool_type)
