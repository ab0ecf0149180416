"""Model calls: ``model_call`` around a call (CLIENT span + metrics) and ``record_model_call``
for a call measured elsewhere (metrics only).

One recorded call is, by the GenAI conventions: the CLIENT span
``{gen_ai.operation.name} {gen_ai.request.model}`` with provider, models, response id,
finish reasons and token usage; ``gen_ai.client.operation.duration`` (with ``error.type``
when it failed); ``gen_ai.client.token.usage`` once per token type. Then ours:
``agent.model.calls``, ``agent.model.cost`` (or ``agent.model.unpriced``) and the
conversation totals, attributed to the current agent (``gen_ai.agent.id``).

Token counts must be non-negative integers (``bool`` is refused) of at most
:data:`MAX_TOKENS`; a bad one raises an error naming the field before anything is recorded.
The bound keeps one buggy or hostile usage report from breaking every later export: OTLP
encodes counts and cumulative sums as 64-bit integers, and a count past them fails the whole
metric batch, for good. Provider names are free-form, as the
conventions allow (their well-known values are ``openai``, ``anthropic``, ``aws.bedrock``...).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from otel_agents import semconv as sc
from otel_agents._errors import invalid_type, invalid_value
from otel_agents._logs import redacting_logger
from otel_agents._numbers import is_real
from otel_agents._runtime import FailureLog
from otel_agents._version import scope_name
from otel_agents.genai._agents import check_name, check_optional
from otel_agents.genai._content import capture_content_on_spans, messages_json
from otel_agents.genai._context import Attribution, current_attribution, with_model_call
from otel_agents.genai._scope import Scope, call_error_type_of, mark_failed
from otel_agents.genai._telemetry import GenAITelemetry, Measured, default_telemetry

__all__ = [
    "MAX_TOKENS",
    "ModelCall",
    "check_tokens",
    "is_tokens",
    "model_call",
    "record_model_call",
]

_CLIENT = SpanKind.CLIENT
_perf_counter = time.perf_counter
_logger = redacting_logger(scope_name("otel_agents.genai"))
_FAILURES = FailureLog(_logger, "GenAI telemetry: %s failed; the call went on without it")

#: The most tokens one call may report (per token type): 2**31 - 1, far above any model's
#: context window, and low enough that a 64-bit cumulative sum of them cannot overflow.
MAX_TOKENS = 2**31 - 1
_TOKENS_RULE = f"a whole number of tokens from 0 to {MAX_TOKENS:,} (one call's usage)"


def is_tokens(value: object) -> TypeGuard[int]:
    """Whether ``value`` is a usable token count: an ``int`` (not ``bool``) 0-MAX_TOKENS."""
    return type(value) is int and 0 <= value <= MAX_TOKENS


def check_tokens(parameter: str, value: Any) -> int:
    """``value`` if it is an ``int`` (not ``bool``) from 0 to :data:`MAX_TOKENS`; else an
    error naming ``parameter``, the value and the range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(parameter, value, _TOKENS_RULE)
    if not 0 <= value <= MAX_TOKENS:
        raise invalid_value(parameter, value, _TOKENS_RULE)
    return value


def _check_reasons(value: Any) -> tuple[str, ...]:
    if type(value) is tuple and all(type(r) is str and 0 < len(r) <= 256 for r in value):
        return value  # the hot path, without abc isinstance checks
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise invalid_type("finish_reasons", value, "a sequence of strings, e.g. ['stop']")
    for reason in value:
        check_name("finish_reasons", reason)
    return tuple(value)


class ModelCall(Scope):
    """One model call in progress: what :func:`model_call` yields.

    Set what the response says with :meth:`set_usage` and :meth:`set_response`; they are
    recorded when the block ends, and stay readable after it. Entering the object again
    (once the block ended) starts a new call: usage and response start empty.
    """

    __slots__ = (
        "_attribution",
        "_input_tokens",
        "_measured",
        "_output_tokens",
        "_span",
        "_started",
        "_telemetry",
        "finish_reasons",
        "model",
        "operation",
        "provider",
        "response_id",
        "response_model",
        "server_address",
        "server_port",
    )

    def __init__(
        self,
        model: str,
        provider: str,
        operation: str = sc.GEN_AI_OPERATION_CHAT,
        server_address: str | None = None,
        server_port: int | None = None,
        telemetry: GenAITelemetry | None = None,
    ) -> None:
        super().__init__()
        self.model = check_name("model", model)
        self.provider = check_name("provider", provider)
        self.operation = check_name("operation", operation)
        self.server_address = check_optional("server_address", server_address)
        if server_port is not None and (
            isinstance(server_port, bool)
            or not isinstance(server_port, int)
            or not 0 < server_port < 65536
        ):
            raise invalid_value("server_port", server_port, "a port number 1-65535 or None")
        self.server_port = server_port
        self._telemetry = telemetry
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None
        self.response_model: str | None = None
        self.response_id: str | None = None
        self.finish_reasons: tuple[str, ...] = ()
        self._span: Span | None = None
        self._started = 0.0
        self._attribution = Attribution()
        self._measured = Measured.NOTHING

    def __enter__(self) -> ModelCall:
        return super().__enter__()  # type: ignore[no-any-return]

    async def __aenter__(self) -> ModelCall:
        return super().__enter__()  # type: ignore[no-any-return]

    @property
    def input_tokens(self) -> int | None:
        """Input tokens set by :meth:`set_usage`, or ``None``."""
        return self._input_tokens

    @property
    def output_tokens(self) -> int | None:
        """Output tokens set by :meth:`set_usage`, or ``None``."""
        return self._output_tokens

    def set_usage(self, input_tokens: int, output_tokens: int) -> None:
        """The tokens the call used (``gen_ai.usage.input_tokens`` / ``output_tokens``).

        Raises:
            InvalidTypeError, InvalidValueError: a count that is not an int from 0 to
                :data:`MAX_TOKENS`; nothing is changed then.
        """
        checked_in = check_tokens("input_tokens", input_tokens)
        self._output_tokens = check_tokens("output_tokens", output_tokens)
        self._input_tokens = checked_in

    def set_response(
        self,
        *,
        model: str | None = None,
        finish_reasons: Sequence[str] = (),
        response_id: str | None = None,
    ) -> None:
        """What the response says: the model that answered (``gen_ai.response.model``), why
        it stopped (``gen_ai.response.finish_reasons``), its id (``gen_ai.response.id``)."""
        response_model = check_optional("model", model)
        reasons = _check_reasons(finish_reasons)
        self.response_id = check_optional("response_id", response_id)
        self.response_model, self.finish_reasons = response_model, reasons

    def set_messages(
        self,
        *,
        input_messages: Sequence[Mapping[str, Any]] = (),
        output_messages: Sequence[Mapping[str, Any]] = (),
    ) -> bool:
        """The prompt and the answer, recorded on the span only when
        ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` opts in (``SPAN_ONLY``,
        ``SPAN_AND_EVENT``; off by default: prompts carry personal data and secrets).

        Messages are mappings shaped as the conventions say
        (``{"role": "user", "parts": [{"type": "text", "content": "..."}]}``).

        Returns:
            Whether the content was recorded.
        """
        if not capture_content_on_spans() or self._span is None:
            return False
        attributes: dict[str, str] = {}
        if input_messages:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = messages_json("input_messages", input_messages)
        if output_messages:
            attributes[sc.GEN_AI_OUTPUT_MESSAGES] = messages_json(
                "output_messages", output_messages
            )
        self._span.set_attributes(attributes)
        return bool(attributes)

    def measured_by_instrumentation(self, input_tokens: bool, output_tokens: bool) -> None:
        """Called by the span processor when the model span of an instrumentation that
        records the ``gen_ai.client.*`` histograms (the same request; openai-v2, util-genai,
        ..., see ``HISTOGRAM_SCOPES``) ends inside this call: it recorded the duration and
        the token histograms it had usage for, so this call does not record them again."""
        if self._span is None:
            return  # ended already (or never started): recorded as it was
        measured = self._measured | Measured.DURATION
        if input_tokens:
            measured |= Measured.INPUT_TOKENS
        if output_tokens:
            measured |= Measured.OUTPUT_TOKENS
        self._measured = measured

    def _copy(self) -> ModelCall:  # model_call is not a decorator; kept for Scope
        return ModelCall(
            self.model,
            self.provider,
            self.operation,
            self.server_address,
            self.server_port,
            self._telemetry,
        )

    def _start(self) -> Context:
        # Each `with` is one request: a ModelCall used again must not record the previous
        # one's usage and response a second time (tokens and cost counted twice).
        self._input_tokens = self._output_tokens = None
        self.response_model = self.response_id = None
        self.finish_reasons = ()
        self._measured = Measured.NOTHING
        telemetry = self._telemetry or default_telemetry()
        self._telemetry = telemetry
        attribution = self._attribution = current_attribution()
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: self.operation,
            sc.GEN_AI_PROVIDER_NAME: self.provider,
            sc.GEN_AI_REQUEST_MODEL: self.model,
        }
        if self.server_address is not None:
            attributes[sc.SERVER_ADDRESS] = self.server_address
        if self.server_port is not None:
            attributes[sc.SERVER_PORT] = self.server_port
        if attribution.agent_id is not None:
            attributes[sc.GEN_AI_AGENT_ID] = attribution.agent_id
        if attribution.conversation_id is not None:
            attributes[sc.GEN_AI_CONVERSATION_ID] = attribution.conversation_id
        span = telemetry.tracer.start_span(
            sc.GEN_AI_MODEL_SPAN.format(operation=self.operation, model=self.model),
            kind=_CLIENT,
            attributes=attributes,
        )
        self._span = span
        self._started = _perf_counter()
        return with_model_call(trace.set_span_in_context(span), self)

    def _finish(self, exc: BaseException | None) -> None:
        duration = _perf_counter() - self._started
        span, self._span = self._span, None
        telemetry = self._telemetry
        if span is None or telemetry is None:
            return
        try:
            error_type = call_error_type_of(exc)  # a cancelled call did not complete either
            if exc is not None and error_type is not None:
                mark_failed(span, exc, error_type)
            attributes: dict[str, Any] = {}
            if self.response_model is not None:
                attributes[sc.GEN_AI_RESPONSE_MODEL] = self.response_model
            if self.response_id is not None:
                attributes[sc.GEN_AI_RESPONSE_ID] = self.response_id
            if self.finish_reasons:
                attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = self.finish_reasons
            if self._input_tokens is not None:
                attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] = self._input_tokens
            if self._output_tokens is not None:
                attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = self._output_tokens
            if attributes:
                span.set_attributes(attributes)
            telemetry.record_model(
                model=self.model,
                provider=self.provider,
                operation=self.operation,
                input_tokens=self._input_tokens,
                output_tokens=self._output_tokens,
                duration_s=duration,
                finish_reasons=self.finish_reasons,
                response_model=self.response_model,
                error_type=error_type,
                attribution=self._attribution,
                measured=self._measured,
            )
        finally:
            span.end()


def model_call(
    model: str,
    *,
    provider: str,
    operation: str = sc.GEN_AI_OPERATION_CHAT,
    server_address: str | None = None,
    server_port: int | None = None,
) -> ModelCall:
    """Record one call to a model around the code that makes it (``with`` / ``async with``)::

        with genai.model_call("gpt-4o", provider="openai") as call:
            response = client.chat.completions.create(model="gpt-4o", messages=...)
            call.set_usage(response.usage.prompt_tokens, response.usage.completion_tokens)
            call.set_response(model=response.model, finish_reasons=["stop"])

    An exception inside marks the span and ``error.type`` and propagates unchanged; so
    does a cancellation (``asyncio.timeout``: ``CancelledError``) or a stream closed or
    abandoned before its end (``GeneratorExit``): the call did not complete. An
    official instrumentation's span for the same request (openai-v2 ...) nests under this
    one and is not counted a second time: this call records the calls, cost and
    conversation totals, and leaves the ``gen_ai.client.*`` histograms it recorded to it.

    Args:
        model: ``gen_ai.request.model``; the price table is looked up by it.
        provider: ``gen_ai.provider.name`` (``openai``, ``anthropic``, ... or your own).
        operation: ``gen_ai.operation.name``: ``chat`` (default), ``text_completion``,
            ``generate_content``, ``embeddings``.
        server_address: ``server.address`` of the model endpoint.
        server_port: ``server.port``.

    Raises:
        InvalidTypeError, InvalidValueError: an empty or non-string name, a bad port.
    """
    return ModelCall(model, provider, operation, server_address, server_port)


def record_model_call(
    *,
    model: str,
    provider: str,
    input_tokens: int,
    output_tokens: int,
    duration_s: float,
    operation: str = sc.GEN_AI_OPERATION_CHAT,
    finish_reasons: Sequence[str] = (),
    response_model: str | None = None,
    error_type: str | None = None,
) -> float:
    """Record a model call measured elsewhere (no span): histograms, calls, cost, rollup.

    Attributed to the current agent and conversation (:func:`invoke_agent`).

    Returns:
        Its cost in US dollars by the price table (0 for an unpriced model, and when
        recording failed: that is logged once, never raised).

    Raises:
        InvalidTypeError, InvalidValueError: a token count that is not an int from 0 to
            :data:`MAX_TOKENS`, a negative or non-finite duration, an empty name; nothing
            is recorded then.
    """
    check_name("model", model)
    check_name("provider", provider)
    check_name("operation", operation)
    tokens_in = check_tokens("input_tokens", input_tokens)
    tokens_out = check_tokens("output_tokens", output_tokens)
    if not is_real(duration_s) or duration_s < 0:
        raise invalid_value("duration_s", duration_s, "a non-negative number of seconds")
    reasons = _check_reasons(finish_reasons)
    check_optional("response_model", response_model)
    check_optional("error_type", error_type)
    try:
        return default_telemetry().record_model(
            model=model,
            provider=provider,
            operation=operation,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            duration_s=float(duration_s),
            finish_reasons=reasons,
            response_model=response_model,
            error_type=error_type,
            attribution=current_attribution(),
        )
    except Exception:  # checked input cannot fail; a broken provider must not reach the caller
        _FAILURES.record("record_model_call")
        return 0.0
