"""What the local model server answers: OpenAI chat requests checked, answered from a script.

The OpenAI side of :mod:`otel_agents._model_server`, apart from its HTTP side: a request body
is parsed and checked field by field (OpenAI-style ``400`` errors naming the field), its
``prompt_tokens`` counted deterministically, and the answer taken from a script of
:class:`Answer` objects, each model in turn through it, shaped as a ``chat.completion``.
Separate from the server so that the script and the token counting can be read, and tested,
without a socket.

How tokens are counted (deterministic, not a real tokenizer): ``prompt_tokens`` is the number
of whitespace-separated words of every message's content plus :data:`TOKENS_PER_MESSAGE` per
message; ``completion_tokens`` is the scripted answer's ``completion_tokens``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from otel_agents._errors import invalid_value
from otel_agents._numbers import is_real

__all__ = [
    "DEFAULT_SCRIPT",
    "FINISH_REASONS",
    "TOKENS_PER_MESSAGE",
    "Answer",
    "ChatScript",
    "RequestError",
    "error_body",
]

#: Most messages in one request, and longest model name.
MAX_MESSAGES = 256
MAX_MODEL_LENGTH = 256
#: What each message adds to ``prompt_tokens`` besides its words (OpenAI's chat format adds
#: a few tokens of framing per message).
TOKENS_PER_MESSAGE = 3
#: The finish reasons of OpenAI's Chat Completions API.
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")
#: Longest scripted delay of an answer.
MAX_DELAY_S = 5.0


@dataclass(frozen=True)
class Answer:
    """One scripted answer: what the model says, how it finishes and what it costs in tokens.

    ``tool`` names a function the model asks to call (``finish_reason`` then is
    ``tool_calls`` and there is no content); ``delay_s`` is how long the server thinks first;
    ``status`` makes the answer an error response with that HTTP status instead (429, 500,
    503: what a provider's outage looks like).
    """

    content: str = "OK."
    completion_tokens: int = 5
    finish_reason: str = "stop"
    tool: str | None = None
    delay_s: float = 0.0
    status: int = 200

    def __post_init__(self) -> None:
        if self.finish_reason not in FINISH_REASONS:
            raise invalid_value(
                "finish_reason", self.finish_reason, "a finish reason", FINISH_REASONS
            )
        if isinstance(self.completion_tokens, bool) or not isinstance(self.completion_tokens, int):
            raise invalid_value("completion_tokens", self.completion_tokens, "an int >= 0")
        if self.completion_tokens < 0:
            raise invalid_value("completion_tokens", self.completion_tokens, "an int >= 0")
        if not (is_real(self.delay_s) and 0.0 <= self.delay_s <= MAX_DELAY_S):  # "1": TypeError
            raise invalid_value(
                "delay_s", self.delay_s, f"a number of seconds from 0 to {MAX_DELAY_S:g}"
            )
        if self.status not in _ANSWER_STATUSES:
            raise invalid_value(
                "status", self.status, "200 or an HTTP error status (400-599) with a phrase"
            )
        if self.tool is not None and self.finish_reason != "tool_calls":
            raise invalid_value("finish_reason", self.finish_reason, "'tool_calls' with a tool")


#: What a scripted answer may answer with: 200, or an error status with a body.
_ANSWER_STATUSES = frozenset({200} | {int(s) for s in HTTPStatus if 400 <= s <= 599})

#: The demo's script: mostly plain answers, one cut short, one tool call.
DEFAULT_SCRIPT: tuple[Answer, ...] = (
    Answer("Here is a short plan in three steps.", 42),
    Answer("The sources agree on the main point.", 120),
    Answer("", 0, "tool_calls", tool="web_search"),
    Answer("A summary that runs past the token limit and is", 256, "length"),
    Answer("Done.", 8),
)


class RequestError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


def error_body(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


def _words(content: object) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content.split())
    if isinstance(content, list):  # content parts: [{"type": "text", "text": "..."}]
        return sum(
            len(part["text"].split())
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    raise RequestError(400, "message content must be a string, a list of parts or null", "messages")


def _parse(body: bytes) -> tuple[str, int]:
    """The model and ``prompt_tokens`` of a chat completion request (400 when malformed)."""
    try:
        request = json.loads(body)
    except ValueError as exc:
        # JSONDecodeError and UnicodeDecodeError, and the int() limit of an integer literal
        # over sys.get_int_max_str_digits() digits (4300): a plain ValueError.
        raise RequestError(400, f"the body is not JSON this server parses: {exc}") from exc
    except RecursionError:
        raise RequestError(400, "the body is nested too deeply to parse") from None
    if not isinstance(request, dict):
        raise RequestError(400, "the body must be a JSON object")
    model = request.get("model")
    if not isinstance(model, str) or not 0 < len(model) <= MAX_MODEL_LENGTH:
        raise RequestError(400, "model must be a non-empty string", "model")
    messages = request.get("messages")
    if not isinstance(messages, list) or not 0 < len(messages) <= MAX_MESSAGES:
        raise RequestError(400, f"messages must be a list of 1 to {MAX_MESSAGES}", "messages")
    tokens = 0
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(400, "each message must be an object with a role", "messages")
        tokens += TOKENS_PER_MESSAGE + _words(message.get("content"))
    if request.get("stream"):
        raise RequestError(400, "stream is not supported by this server", "stream")
    return model, tokens


class ChatScript:
    """Answers chat completion requests from a script, each model in turn through it.

    Each model has its own position in the script, so what one model answers does not depend
    on how calls to other models interleave with it (threads of the demo).
    """

    def __init__(self, answers: Sequence[Answer] = DEFAULT_SCRIPT) -> None:
        if not answers:
            raise invalid_value("answers", answers, "at least one Answer")
        self._answers = tuple(answers)
        self._positions: dict[str, int] = {}
        self._served = 0
        self._lock = threading.Lock()

    @property
    def served(self) -> int:
        """How many requests were answered (errors included)."""
        return self._served

    def next_answer(self, model: str) -> tuple[int, Answer]:
        """The sequence number of the call and the answer ``model`` gives next."""
        with self._lock:
            position = self._positions.get(model, 0)
            # Bounded: a client inventing model names cannot grow this past the limit.
            if model in self._positions or len(self._positions) < MAX_MESSAGES:
                self._positions[model] = position + 1
            self._served += 1
            return self._served, self._answers[position % len(self._answers)]

    def respond(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON body answering the request ``body``."""
        try:
            model, prompt_tokens = _parse(body)
        except RequestError as exc:
            return exc.status, error_body(exc.status, exc.message, exc.param)
        number, answer = self.next_answer(model)
        if answer.delay_s:
            time.sleep(answer.delay_s)
        if answer.status != 200:
            phrase = HTTPStatus(answer.status).phrase
            return answer.status, error_body(answer.status, f"scripted failure: {phrase}")
        return 200, _completion(number, model, answer, prompt_tokens)


def _completion(number: int, model: str, answer: Answer, prompt_tokens: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.content or None}
    if answer.tool is not None:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": f"call_{number}",
                "type": "function",
                "function": {"name": answer.tool, "arguments": "{}"},
            }
        ]
    return {
        "id": f"chatcmpl-local-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": answer.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": prompt_tokens + answer.completion_tokens,
        },
        "system_fingerprint": None,
    }
