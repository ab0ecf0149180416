"""Official GenAI instrumentations join in: agent attribution and cost for their spans.

An instrumentation such as ``opentelemetry-instrumentation-openai-v2`` makes its ``chat``
span as a child of the current span, so inside our ``process`` / ``invoke_agent`` spans it
already nests in the right trace. What it cannot know is *which agent* called and *which
conversation* the call belongs to, nor what it cost. :class:`GenAISpanProcessor`, which
``configure()`` adds to the TracerProvider it builds, fills that in:

* ``on_start`` of a span carrying ``gen_ai.operation.name`` (made by another scope than ours)
  adds ``gen_ai.agent.id`` / ``gen_ai.agent.name`` / ``gen_ai.conversation.id`` from the
  attribution in its parent context, unless the instrumentation set them. The agent's
  identity goes only on work *of* that agent (model calls, tools): not on an
  ``invoke_agent`` / ``create_agent`` span, which is about the agent it invokes or creates (a
  framework's sub-agent), nor on a span that names another agent. The conversation is added
  to those too, but for ``create_agent``: a sub-agent invoked inside a conversation works in
  it (as our own nested ``invoke_agent`` does), while creating an agent is no turn of one (the
  conventions' ``create_agent`` span has no ``gen_ai.conversation.id``);
* ``on_end`` of such a model span (``chat``, ``text_completion``, ``generate_content``...)
  reads its usage attributes and records ``agent.model.calls``, ``agent.model.cost`` (or
  ``agent.model.unpriced``) and the conversation totals, for the agent the span is of (the
  current one, or the one it names: its id, else its name). Their own
  ``gen_ai.client.*`` histograms are theirs; we do not record those again.

A span started inside our own :func:`~otel_agents.genai.model_call` is attributed but not
counted: that call records the request's calls, cost and conversation totals. When a span of
an instrumentation known to record the ``gen_ai.client.*`` histograms
(:data:`HISTOGRAM_SCOPES`) ends inside the call, the call is told (through the context), and
leaves out what that instrumentation recorded (the duration, and the token types the span
has usage for), so one request is one series sample, not two. Any other scope's span
(vertexai's, which has no meter at all, a vendor's, a hand-made one) hands nothing off: a
span proves a request was made, not that its histograms were, and a missing sample is worse
than none to compare it with.

Bad usage values (negative, non-integer, above
:data:`~otel_agents.genai._model.MAX_TOKENS`) record nothing for that span and log one
warning per instrumentation and attribute; nothing here ever raises into the model call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_agents import semconv as sc
from otel_agents._errors import short_repr
from otel_agents._logs import redacting_logger
from otel_agents._runtime import BoundedCache, FailureLog
from otel_agents._version import scope_name
from otel_agents.genai._context import (
    Attribution,
    MeasuredCall,
    current_attribution,
    model_call_in,
)
from otel_agents.genai._model import MAX_TOKENS, is_tokens
from otel_agents.genai._telemetry import SCOPE, default_telemetry

__all__ = ["HISTOGRAM_SCOPES", "MODEL_OPERATIONS", "GenAISpanProcessor"]

_logger = redacting_logger(scope_name("otel_agents.genai"))

#: ``gen_ai.operation.name`` values of model calls (those with token usage to price).
MODEL_OPERATIONS = frozenset(
    {
        sc.GEN_AI_OPERATION_CHAT,
        sc.GEN_AI_OPERATION_TEXT_COMPLETION,
        sc.GEN_AI_OPERATION_GENERATE_CONTENT,
        sc.GEN_AI_OPERATION_EMBEDDINGS,
    }
)
#: Instrumentation scopes whose model spans come with their own ``gen_ai.client.operation
#: .duration`` and ``gen_ai.client.token.usage`` samples (for the token types the span has
#: usage for), always: a ``model_call`` around such a request leaves those to them. Checked in
#: opentelemetry-python-contrib: openai-v2's own meter (its pre-1.37 path); util-genai's
#: ``TelemetryHandler`` (``InvocationMetricsRecorder``), which openai-v2's latest path and
#: other instrumentations built on it use; google-genai's ``OTelWrapper``; botocore's
#: bedrock-runtime extension. Not vertexai (a tracer and a logger, no meter) nor
#: openai-agents (its metrics can be switched off, which its spans do not tell).
HISTOGRAM_SCOPES = frozenset(
    {
        "opentelemetry.instrumentation.openai_v2",
        "opentelemetry.util.genai.handler",
        "opentelemetry.instrumentation.google_genai",
        "opentelemetry.instrumentation.botocore.bedrock-runtime",
    }
)
#: Operations about an agent (the one invoked or created), not work done by the current one.
_AGENT_OPERATIONS = frozenset({sc.GEN_AI_OPERATION_INVOKE_AGENT, sc.GEN_AI_OPERATION_CREATE_AGENT})
#: Model spans in flight at once that we remember (more are attributed but not priced).
_MAX_IN_FLIGHT = 10_000
#: (instrumentation, attribute) pairs whose bad usage was logged (then no more warnings).
_MAX_WARNED = 256
#: The longest agent id or name of another instrumentation we take as a metric label.
_MAX_NAME = 256


# openai-v2 2.4b0 sets error.type to a class object, which the SDK stores as its str().
_CLASS_REPR = re.compile(r"<class '(?:[\w.]*\.)?(\w+)'>")


def _error_type(value: object) -> str | None:
    """``error.type`` as our own metrics spell it: the exception class name."""
    if not isinstance(value, str) or not value:
        return None
    found = _CLASS_REPR.fullmatch(value)
    return found.group(1) if found else value


def _records_histograms(span: Span) -> bool:
    """Whether the instrumentation that made ``span`` records the request's histograms."""
    scope = span.instrumentation_scope
    return scope is not None and scope.name in HISTOGRAM_SCOPES


def _of_current_agent(attributes: Any, operation: Any, attribution: Attribution) -> bool:
    """Whether a span is work of the agent in ``attribution``, so its identity may complete
    the span's: no agent span (it is about the agent invoked or created, which a framework's
    sub-agent makes another one), no other agent named."""
    if operation in _AGENT_OPERATIONS:
        return False
    name = attributes.get(sc.GEN_AI_AGENT_NAME)
    agent_id = attributes.get(sc.GEN_AI_AGENT_ID)
    return (name is None or name == attribution.agent_name) and (
        agent_id is None or agent_id == attribution.agent_id
    )


def _named_agent(attributes: Any, conversation_id: str | None) -> Attribution:
    """The agent a span names itself, in the current conversation: its id, else its name
    (the rule of ``invoke_agent`` without an id); none when it names no usable one."""
    name = _name(attributes.get(sc.GEN_AI_AGENT_NAME))
    return Attribution(_name(attributes.get(sc.GEN_AI_AGENT_ID)) or name, name, conversation_id)


def _name(value: object) -> str | None:
    # A metric label: only a short string (another instrumentation's value, unchecked).
    return value if isinstance(value, str) and 0 < len(value) <= _MAX_NAME else None


class GenAISpanProcessor(SpanProcessor):
    """Adds our agent attribution to other instrumentations' GenAI spans and prices their
    model calls (``agent.model.cost``, ``agent.model.calls``, conversation totals)."""

    def __init__(self) -> None:
        self._pending: BoundedCache[int, Attribution] = BoundedCache(_MAX_IN_FLIGHT)
        #: Their model spans inside one of our model calls, and that call.
        self._inside: BoundedCache[int, MeasuredCall] = BoundedCache(_MAX_IN_FLIGHT)
        self._failures = FailureLog(_logger, "GenAI span processor: %s failed; skipped")
        self._warned: BoundedCache[tuple[str, str], bool] = BoundedCache(_MAX_WARNED)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes
        if attributes is None:
            return
        operation = attributes.get(sc.GEN_AI_OPERATION_NAME)
        if operation is None:
            return
        scope = span.instrumentation_scope
        if scope is not None and scope.name == SCOPE:
            return
        try:
            self._start(span, attributes, operation, parent_context)
        except Exception as exc:  # telemetry never breaks the model call
            self._failures.record_error(exc, "on_start")

    def _start(
        self, span: Span, attributes: Any, operation: Any, parent_context: Context | None
    ) -> None:
        attribution = current_attribution(parent_context)
        added: dict[str, str] = {}
        if _of_current_agent(attributes, operation, attribution):
            if attribution.agent_id is not None and sc.GEN_AI_AGENT_ID not in attributes:
                added[sc.GEN_AI_AGENT_ID] = attribution.agent_id
            if attribution.agent_name is not None and sc.GEN_AI_AGENT_NAME not in attributes:
                added[sc.GEN_AI_AGENT_NAME] = attribution.agent_name
        else:
            attribution = _named_agent(attributes, attribution.conversation_id)
        if (
            attribution.conversation_id is not None
            and operation != sc.GEN_AI_OPERATION_CREATE_AGENT
            and sc.GEN_AI_CONVERSATION_ID not in attributes
        ):
            added[sc.GEN_AI_CONVERSATION_ID] = attribution.conversation_id
        if added:
            span.set_attributes(added)
        if operation in MODEL_OPERATIONS:
            call = model_call_in(parent_context)
            if call is None:
                self._pending.put(span.context.span_id, attribution)
            elif _records_histograms(span):
                self._inside.put(span.context.span_id, call)
            # else: the call records everything for the request, its histograms included

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or not (self._pending or self._inside):
            return
        try:
            call = self._inside.pop(context.span_id, None)
            if call is not None:
                # Its histograms are recorded (by it, as it ends): our call leaves them out.
                attributes = span.attributes or {}
                call.measured_by_instrumentation(
                    sc.GEN_AI_USAGE_INPUT_TOKENS in attributes,
                    sc.GEN_AI_USAGE_OUTPUT_TOKENS in attributes,
                )
                return
            attribution = self._pending.pop(context.span_id, None)
            if attribution is not None:
                self._record(span, attribution)
        except Exception as exc:
            self._failures.record_error(exc, "on_end")

    def _record(self, span: ReadableSpan, attribution: Attribution) -> None:
        attributes = span.attributes or {}
        model = attributes.get(sc.GEN_AI_REQUEST_MODEL)
        provider = attributes.get(sc.GEN_AI_PROVIDER_NAME, attributes.get(sc.GEN_AI_SYSTEM))
        if not isinstance(model, str) or not model:
            return  # nothing to price or count it by
        if not isinstance(provider, str) or not provider:
            provider = sc.GEN_AI_PROVIDER_UNKNOWN
        tokens: list[int | None] = []
        for key in (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS):
            value = attributes.get(key)
            if value is not None and not is_tokens(value):
                self._bad_usage(span, key, value)
                return
            tokens.append(value)
        reasons = attributes.get(sc.GEN_AI_RESPONSE_FINISH_REASONS)
        finish: Sequence[str] = (
            [r for r in reasons if isinstance(r, str)] if isinstance(reasons, Sequence) else ()
        )
        if isinstance(reasons, str):
            finish = (reasons,)
        error_type = _error_type(attributes.get(sc.ERROR_TYPE))
        default_telemetry().record_usage(
            model=model,
            provider=provider,
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            finish_reasons=finish,
            error_type=error_type,
            attribution=attribution,
        )

    def _bad_usage(self, span: ReadableSpan, key: str, value: object) -> None:
        # Once per instrumentation and attribute: a broken or hostile server repeats it on
        # every response, and the log must not grow with them.
        source = span.instrumentation_scope.name if span.instrumentation_scope else "?"
        if self._warned.get((source, key)) is not None:
            return
        self._warned.put((source, key), True)
        _logger.warning(
            # "key is value", not "key=value": log redaction masks a "*tokens=" pair.
            "span %r from %s: %s is %s, not a whole number of tokens from 0 to %d; its model "
            "call is not counted (this is logged once per instrumentation and attribute)",
            span.name,
            source,
            key,
            short_repr(value),
            MAX_TOKENS,
        )

    def shutdown(self) -> None:
        self._pending.clear()
        self._inside.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
