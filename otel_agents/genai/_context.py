"""Who the current GenAI work belongs to: agent and conversation, carried in the OTel context.

:func:`~otel_agents.genai.invoke_agent` and a messaging CONSUMER ``process`` span put an
:class:`Attribution` into the OpenTelemetry context; model calls, tool executions and the span
processor for official instrumentations read it from there. The OTel context is built on
``contextvars``, so attribution follows threads' and tasks' own context like the active span
does, and restoring the previous context (``detach``) restores the previous attribution.

Across processes the conversation travels with the message (``AgentMessage.conversation_id``,
filled from the current attribution when the sender gives none): no baggage is needed, so
nothing extra is exposed to third-party services the agent calls.

A conversation id becomes a span attribute, a key of the per-conversation rollup and a label
of its gauges, so it has one rule everywhere (:func:`is_conversation_id`: 1-256 characters):
messages received from the network are refused without it, and an attribution never carries
an id that breaks it (a message built in code skips the wire check).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, TypeGuard, cast

from opentelemetry import context as otel_context
from opentelemetry.context import Context

from otel_agents._errors import invalid_value

__all__ = [
    "CONVERSATION_ID_RULE",
    "MAX_CONVERSATION_ID",
    "Attribution",
    "MeasuredCall",
    "check_conversation_id",
    "current_attribution",
    "current_conversation_id",
    "in_model_call",
    "is_conversation_id",
    "model_call_in",
    "with_attribution",
    "with_model_call",
]

#: The longest conversation id, in characters (on the wire, in context, in the rollup).
MAX_CONVERSATION_ID = 256
#: What an error about a bad conversation id says is expected.
CONVERSATION_ID_RULE = f"a string of 1-{MAX_CONVERSATION_ID} characters or null"

_ATTRIBUTION = otel_context.create_key("otel_agents.genai.attribution")
_MODEL_CALL = otel_context.create_key("otel_agents.genai.model_call")


class Attribution(NamedTuple):
    """The agent (id and name) and the conversation that GenAI work is recorded for."""

    agent_id: str | None = None
    agent_name: str | None = None
    conversation_id: str | None = None


_NOBODY = Attribution()


def is_conversation_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a usable conversation id: a string of 1-256 characters.

    The one rule for every conversation id: a sender's argument
    (:func:`check_conversation_id`), a message from the network, an inherited attribution,
    a rollup key. An empty id would merge unrelated work; a long one costs its length in
    memory per rollup key and in every exported gauge label.
    """
    return isinstance(value, str) and 0 < len(value) <= MAX_CONVERSATION_ID


def check_conversation_id(value: object, parameter: str = "conversation_id") -> str | None:
    """``value`` if it is ``None`` or a usable conversation id; else an InvalidValueError
    naming ``parameter`` (for a sender's argument)."""
    if value is None or is_conversation_id(value):
        return value
    raise invalid_value(parameter, value, f"a string of 1-{MAX_CONVERSATION_ID} characters or None")


def current_attribution(context: Context | None = None) -> Attribution:
    """The attribution in ``context`` (the current one by default); empty when none."""
    found = otel_context.get_value(_ATTRIBUTION, context)
    return found if isinstance(found, Attribution) else _NOBODY


def current_conversation_id(context: Context | None = None) -> str | None:
    """The conversation the current work belongs to, if any (messages sent inherit it)."""
    return current_attribution(context).conversation_id


def with_attribution(attribution: Attribution, context: Context | None = None) -> Context:
    """``context`` (the current one by default) with ``attribution`` as the current one.

    A conversation id that fails :func:`is_conversation_id` is dropped here, so the work
    inside (and the messages it sends) is not attributed to it.
    """
    conversation = attribution.conversation_id
    if conversation is not None and not is_conversation_id(conversation):
        attribution = attribution._replace(conversation_id=None)
    return otel_context.set_value(_ATTRIBUTION, attribution, context)


class MeasuredCall(Protocol):
    """One of our model calls in progress, as the span processor sees it in the context."""

    def measured_by_instrumentation(self, input_tokens: bool, output_tokens: bool) -> None:
        """An official instrumentation's model span ended inside this call: it recorded the
        ``gen_ai.client.*`` histograms for the request (tokens of the types it saw)."""


def with_model_call(context: Context, call: MeasuredCall) -> Context:
    """``context`` marked as inside our model call ``call``, so an official instrumentation's
    span of the same request is not counted a second time (see ``_processor``)."""
    return otel_context.set_value(_MODEL_CALL, call, context)


def model_call_in(context: Context | None) -> MeasuredCall | None:
    """Our model call that ``context`` is inside, if any."""
    found = otel_context.get_value(_MODEL_CALL, context)
    return None if found is None else cast(MeasuredCall, found)


def in_model_call(context: Context | None) -> bool:
    """Whether ``context`` is inside one of our model calls."""
    return otel_context.get_value(_MODEL_CALL, context) is not None
