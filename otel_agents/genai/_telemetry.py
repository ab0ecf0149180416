"""The GenAI instruments and what one model call or tool execution records in them.

:class:`GenAITelemetry` holds a tracer, the metric instruments of ``otel_agents.semconv``'s
GenAI section and the conversation totals behind the rollup gauges. The module-level API
(:func:`~otel_agents.genai.model_call` ...) uses :func:`default_telemetry`, built from the
global providers on first use; ``configure()`` starts a new one, so calls made after it go to
the providers it set.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import Observation

from otel_agents import semconv as sc
from otel_agents._errors import invalid_value
from otel_agents._observers import observe
from otel_agents._version import __version__, scope_name
from otel_agents.genai._context import Attribution
from otel_agents.genai._labels import ErrorTypes, finish_reason_label
from otel_agents.genai._prices import get_price_table
from otel_agents.genai._rollup import ConversationTotals

__all__ = ["SCOPE", "GenAITelemetry", "Measured", "default_telemetry", "reset_default_telemetry"]

#: The instrumentation scope of our GenAI spans and metrics.
SCOPE = scope_name("otel_agents.genai")


class Measured(enum.IntFlag):
    """The ``gen_ai.client.*`` histograms another instrumentation recorded for a request."""

    NOTHING = 0
    DURATION = 1
    INPUT_TOKENS = 2
    OUTPUT_TOKENS = 4


class GenAITelemetry:
    """Tracer, instruments and conversation totals for GenAI work.

    Args:
        tracer_provider: where spans go; the global provider by default.
        meter_provider: where metrics go; the global provider by default.
        top_conversations: conversations the rollup gauges report (the costliest recent
            ones); 20 by default, 0 for none.
        conversations: the totals to add to and report (shared by the default instances).

    Raises:
        InvalidValueError: ``top_conversations`` is not a non-negative int.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        top_conversations: int = 20,
        conversations: ConversationTotals | None = None,
    ) -> None:
        # Checked first: a float passed on would fail every later collection of the rollup
        # gauges (logged once, the series silently absent), a str fail here as a bare
        # TypeError.
        if (
            isinstance(top_conversations, bool)
            or not isinstance(top_conversations, int)
            or top_conversations < 0
        ):
            raise invalid_value(
                "top_conversations",
                top_conversations,
                "a non-negative whole number of conversations (0 reports none)",
            )
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.token_usage = sc.create_instrument(meter, sc.GEN_AI_CLIENT_TOKEN_USAGE)
        self.duration = sc.create_instrument(meter, sc.GEN_AI_CLIENT_OPERATION_DURATION)
        self.cost = sc.create_instrument(meter, sc.AGENT_MODEL_COST)
        self.unpriced = sc.create_instrument(meter, sc.AGENT_MODEL_UNPRICED)
        self.calls = sc.create_instrument(meter, sc.AGENT_MODEL_CALLS)
        self.tool_calls = sc.create_instrument(meter, sc.AGENT_TOOL_CALLS)
        self.conversations = (
            ConversationTotals(top_conversations) if conversations is None else conversations
        )
        #: error.type labels of these instruments, bounded (a server's text reaches them).
        self.error_types = ErrorTypes()
        # Shared by every GenAITelemetry on this provider, reading each live set of totals
        # once (the default instances share one) and weakly (see otel_agents._observers).
        # One conversation recorded by two instances is this process's sum of both.
        for spec, read in (
            (sc.AGENT_CONVERSATION_COST, _costs),
            (sc.AGENT_CONVERSATION_TOKENS, _tokens),
        ):
            observe(meter_provider, SCOPE, spec, self.conversations, read, summed=True)

    # -- model calls ----------------------------------------------------------------------
    def record_model(
        self,
        *,
        model: str,
        provider: str,
        operation: str,
        input_tokens: int | None,
        output_tokens: int | None,
        duration_s: float | None,
        finish_reasons: Sequence[str],
        response_model: str | None,
        error_type: str | None,
        attribution: Attribution,
        measured: Measured = Measured.NOTHING,
    ) -> float:
        """Record one model call's histograms, cost, call count and conversation totals.

        ``measured``: the histograms an official instrumentation recorded for this request
        already (its span ended inside our call), which are not recorded again.

        Returns its cost in US dollars (0 when unpriced or without token counts).
        """
        error_type = self.error_types.label(error_type)
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: operation,
            sc.GEN_AI_PROVIDER_NAME: provider,
            sc.GEN_AI_REQUEST_MODEL: model,
        }
        if response_model is not None:
            attributes[sc.GEN_AI_RESPONSE_MODEL] = response_model
        if attribution.agent_id is not None:
            attributes[sc.GEN_AI_AGENT_ID] = attribution.agent_id
        if duration_s is not None and not measured & Measured.DURATION:
            if error_type is None:
                self.duration.record(duration_s, attributes)
            else:
                self.duration.record(duration_s, {**attributes, sc.ERROR_TYPE: error_type})
        if input_tokens is not None and not measured & Measured.INPUT_TOKENS:
            self.token_usage.record(
                input_tokens, {**attributes, sc.GEN_AI_TOKEN_TYPE: sc.GEN_AI_TOKEN_TYPE_INPUT}
            )
        if output_tokens is not None and not measured & Measured.OUTPUT_TOKENS:
            self.token_usage.record(
                output_tokens, {**attributes, sc.GEN_AI_TOKEN_TYPE: sc.GEN_AI_TOKEN_TYPE_OUTPUT}
            )
        return self.record_usage(
            model=model,
            provider=provider,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            finish_reasons=finish_reasons,
            error_type=error_type,
            attribution=attribution,
        )

    def record_usage(
        self,
        *,
        model: str,
        provider: str,
        input_tokens: int | None,
        output_tokens: int | None,
        finish_reasons: Sequence[str],
        error_type: str | None,
        attribution: Attribution,
    ) -> float:
        """Cost, ``agent.model.calls`` and conversation totals of one call (no histograms:
        the span processor uses this for calls an official instrumentation measured).

        The finish reason and error type become bounded labels (``_OTHER`` past the well-known
        reasons and the first distinct error types; see ``_labels``): both may be what a
        server said."""
        agent_id = attribution.agent_id
        calls: dict[str, Any] = {
            sc.GEN_AI_PROVIDER_NAME: provider,
            sc.GEN_AI_REQUEST_MODEL: model,
            sc.AGENT_MODEL_FINISH_REASON: finish_reason_label(finish_reasons),
        }
        if agent_id is not None:
            calls[sc.GEN_AI_AGENT_ID] = agent_id
        error_type = self.error_types.label(error_type)
        if error_type is not None:
            calls[sc.ERROR_TYPE] = error_type
        self.calls.add(1, calls)
        cost = 0.0
        if input_tokens is None and output_tokens is None:
            return cost
        tokens_in, tokens_out = input_tokens or 0, output_tokens or 0
        price = get_price_table().price(model)
        if price is None:
            self.unpriced.add(
                1, {sc.GEN_AI_PROVIDER_NAME: provider, sc.GEN_AI_REQUEST_MODEL: model}
            )
        else:
            cost = price.cost(tokens_in, tokens_out)
            costed: dict[str, Any] = {
                sc.GEN_AI_PROVIDER_NAME: provider,
                sc.GEN_AI_REQUEST_MODEL: model,
            }
            if agent_id is not None:
                costed[sc.GEN_AI_AGENT_ID] = agent_id
            self.cost.add(cost, costed)
        if attribution.conversation_id is not None:
            self.conversations.add(
                attribution.conversation_id, agent_id, cost, tokens_in + tokens_out
            )
        return cost

    # -- tools ----------------------------------------------------------------------------
    def record_tool(self, tool_name: str, agent_id: str | None, error_type: str | None) -> None:
        """Count one tool execution (``agent.tool.calls``)."""
        attributes: dict[str, Any] = {sc.GEN_AI_TOOL_NAME: tool_name}
        if agent_id is not None:
            attributes[sc.GEN_AI_AGENT_ID] = agent_id
        error_type = self.error_types.label(error_type)
        if error_type is not None:
            attributes[sc.ERROR_TYPE] = error_type
        self.tool_calls.add(1, attributes)


# -- rollup gauges ------------------------------------------------------------------------
def _costs(totals: ConversationTotals) -> Iterable[Observation]:
    for conversation, agent, cost, _tokens in totals.top_entries():
        yield Observation(cost, _rollup_attributes(conversation, agent))


def _tokens(totals: ConversationTotals) -> Iterable[Observation]:
    for conversation, agent, _cost, tokens in totals.top_entries():
        yield Observation(tokens, _rollup_attributes(conversation, agent))


def _rollup_attributes(conversation: str, agent: str) -> dict[str, str]:
    return {sc.GEN_AI_CONVERSATION_ID: conversation, sc.GEN_AI_AGENT_ID: agent}


_lock = threading.Lock()
_default: GenAITelemetry | None = None


def default_telemetry() -> GenAITelemetry:
    """The :class:`GenAITelemetry` of the global providers, made on first use."""
    found = _default
    if found is not None:
        return found
    return _make_default()


#: The conversations of the default instances (see :func:`_make_default`).
_PROCESS_CONVERSATIONS = ConversationTotals(20)


def _make_default() -> GenAITelemetry:
    global _default
    with _lock:
        if _default is None:
            # One process-wide rollup for every default instance: the totals of calls made
            # before configure() carry on in the default made after it.
            _default = GenAITelemetry(conversations=_PROCESS_CONVERSATIONS)
        return _default


def reset_default_telemetry(telemetry: GenAITelemetry | None = None) -> None:
    """Use ``telemetry`` from now on (``None``: a new one from the global providers on next
    use). ``configure()`` calls this after setting the global providers; tests pass their
    own :class:`GenAITelemetry` built on in-memory providers."""
    global _default
    with _lock:
        _default = telemetry
