"""A local OpenAI-compatible model server with scripted answers, for the demo and tests.

The demo's agents call models without a network or an API key: this server answers
``POST /v1/chat/completions`` as OpenAI's Chat Completions API does (the same JSON request and
response shapes, ``usage`` with ``prompt_tokens``/``completion_tokens``/``total_tokens`` and a
``finish_reason``), with deterministic answers from a script, so every run produces the same
token counts. Any OpenAI client works against it (``base_url=server.base_url``, any key).

It is a stdlib ``ThreadingHTTPServer`` on a daemon thread: no dependency, started and stopped
in the calling process. Every request is hostile until parsed: 127.0.0.1 only, a body of at
most :data:`MAX_BODY_BYTES` (413 before reading more) framed by exactly one
``Content-Length`` (two of them, ``Transfer-Encoding`` or anything but digits: 400 and the
connection closed, so no byte of it is read as another request), head and body read within
:data:`REQUEST_TIMEOUT_S` in all (a body late: 408; a head late: the connection is closed),
strict JSON checks with OpenAI-style ``400`` errors naming the field.

How tokens are counted (deterministic, not a real tokenizer): ``prompt_tokens`` is the number
of whitespace-separated words of every message's content plus :data:`TOKENS_PER_MESSAGE` per
message; ``completion_tokens`` is the scripted answer's ``completion_tokens``.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from otel_agents._errors import invalid_value
from otel_agents._numbers import is_real
from otel_agents._threaded_server import BoundedThreading, DeadlineReader
from otel_agents.gateway._http1 import length_items

__all__ = [
    "CHAT_COMPLETIONS_PATH",
    "DEFAULT_SCRIPT",
    "FINISH_REASONS",
    "MAX_BODY_BYTES",
    "Answer",
    "ChatScript",
    "ModelServer",
]

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
#: Largest request body accepted: far above any demo prompt, far below memory trouble.
MAX_BODY_BYTES = 64 * 1024
#: Most messages in one request, and longest model name.
MAX_MESSAGES = 256
MAX_MODEL_LENGTH = 256
#: What each message adds to ``prompt_tokens`` besides its words (OpenAI's chat format adds
#: a few tokens of framing per message).
TOKENS_PER_MESSAGE = 3
#: The finish reasons of OpenAI's Chat Completions API.
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")
#: Longest time one request may take to arrive, head and body together (counted from when the
#: server waits for it: a keep-alive connection idle this long is closed). Per request, not per
#: read: a client trickling a byte at a time must not hold a connection (and its thread).
REQUEST_TIMEOUT_S = 10.0
#: Connections served at once; more are closed at once (a local demo needs a handful).
MAX_CONNECTIONS = 64
#: Longest scripted delay of an answer.
MAX_DELAY_S = 5.0
_LOOPBACK = ("127.0.0.1", "localhost")


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


class _RequestError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


def _error_body(status: int, message: str, param: str | None = None) -> dict[str, Any]:
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
    raise _RequestError(
        400, "message content must be a string, a list of parts or null", "messages"
    )


def _parse(body: bytes) -> tuple[str, int]:
    """The model and ``prompt_tokens`` of a chat completion request (400 when malformed)."""
    try:
        request = json.loads(body)
    except ValueError as exc:
        # JSONDecodeError and UnicodeDecodeError, and the int() limit of an integer literal
        # over sys.get_int_max_str_digits() digits (4300): a plain ValueError.
        raise _RequestError(400, f"the body is not JSON this server parses: {exc}") from exc
    except RecursionError:
        raise _RequestError(400, "the body is nested too deeply to parse") from None
    if not isinstance(request, dict):
        raise _RequestError(400, "the body must be a JSON object")
    model = request.get("model")
    if not isinstance(model, str) or not 0 < len(model) <= MAX_MODEL_LENGTH:
        raise _RequestError(400, "model must be a non-empty string", "model")
    messages = request.get("messages")
    if not isinstance(messages, list) or not 0 < len(messages) <= MAX_MESSAGES:
        raise _RequestError(400, f"messages must be a list of 1 to {MAX_MESSAGES}", "messages")
    tokens = 0
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise _RequestError(400, "each message must be an object with a role", "messages")
        tokens += TOKENS_PER_MESSAGE + _words(message.get("content"))
    if request.get("stream"):
        raise _RequestError(400, "stream is not supported by this server", "stream")
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
        except _RequestError as exc:
            return exc.status, _error_body(exc.status, exc.message, exc.param)
        number, answer = self.next_answer(model)
        if answer.delay_s:
            time.sleep(answer.delay_s)
        if answer.status != 200:
            phrase = HTTPStatus(answer.status).phrase
            return answer.status, _error_body(answer.status, f"scripted failure: {phrase}")
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


def _declared_length(headers: Message) -> int:
    """The body length a request declares, framed one way only (else a 4xx to close on).

    Two lengths, or a length beside ``Transfer-Encoding`` (which this server does not
    decode), let the client and a proxy in front of it frame the body differently: the rest
    would be served as another request on the keep-alive connection (request smuggling).
    The value is digits only, at most 18 of them, before ``int()`` sees it (``int`` takes
    ``+1_0`` and raises past 4300 digits), by the gateway's rule for the same header.
    """
    if headers.get_all("Transfer-Encoding"):
        raise _RequestError(400, "Transfer-Encoding is not supported: send one Content-Length")
    declared = headers.get_all("Content-Length") or []
    if not declared:
        raise _RequestError(411, "Content-Length is required")
    # Field values arrive decoded as latin-1 (http.client), so this encodes them back exactly.
    items = length_items(declared[0].encode("latin-1")) if len(declared) == 1 else None
    if items is None or len(items) != 1:
        raise _RequestError(400, "send exactly one Content-Length: a whole number of bytes")
    return int(items[0])


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT_S  # writes; reads are bounded by the request's deadline
    protocol_version = "HTTP/1.1"
    _reader: DeadlineReader

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the socket's own file: reads go through the deadline instead
        self._reader = DeadlineReader(self.connection, self.server.request_timeout_s)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self._reader.start()
        super().handle_one_request()

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != CHAT_COMPLETIONS_PATH:
            self._reply(404, _error_body(404, f"unknown path {self.path[:100]!r}"), close=True)
            return
        try:
            length = _declared_length(self.headers)
        except _RequestError as exc:
            self._reply(exc.status, _error_body(exc.status, exc.message), close=True)
            return
        if length > MAX_BODY_BYTES:
            message = f"the body is larger than {MAX_BODY_BYTES} bytes"
            self._reply(413, _error_body(413, message), close=True)
            return
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            message = f"the request did not arrive within {self._reader.timeout_s:g} s"
            self._reply(408, _error_body(408, message), close=True)
            return
        status, answer = self.server.script.respond(body)
        self._reply(status, answer)

    def do_GET(self) -> None:
        self._reply(405, _error_body(405, "only POST /v1/chat/completions"), close=True)

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _reply(self, status: int, body: Mapping[str, Any], *, close: bool = False) -> None:
        data = json.dumps(body).encode()
        self.connection.settimeout(self.timeout)  # not what was left of the read deadline
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:  # the unread body must not be parsed as the next request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the demo prints its own report, and tests read responses."""


class _Server(BoundedThreading, ThreadingHTTPServer):
    """Threads per connection, at most :data:`MAX_CONNECTIONS`, all closed on stop (a
    keep-alive client must not be served by a stopped server)."""

    max_connections = MAX_CONNECTIONS
    script: ChatScript
    request_timeout_s: float = REQUEST_TIMEOUT_S


class ModelServer:
    """The scripted OpenAI-compatible server on ``127.0.0.1`` and a free port.

    A context manager (or ``start()``/``stop()``): serving on a daemon thread while open.
    ``base_url`` is what an OpenAI client takes (``http://127.0.0.1:PORT/v1``).
    ``request_timeout_s`` is how long one request may take to arrive, head and body
    (:data:`REQUEST_TIMEOUT_S` by default).
    """

    def __init__(
        self,
        answers: Sequence[Answer] = DEFAULT_SCRIPT,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        if host not in _LOOPBACK:
            raise invalid_value(
                "host", host, "a loopback host (this server is for local use)", _LOOPBACK
            )
        if not (is_real(request_timeout_s) and request_timeout_s > 0):
            raise invalid_value(
                "request_timeout_s", request_timeout_s, "a finite number of seconds > 0"
            )
        # Checked here, not at start(): a bad port failed there as a bare OverflowError.
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise invalid_value("port", port, "a port number 0-65535 (0: a free port)")
        self._request_timeout_s = float(request_timeout_s)
        self.script = ChatScript(answers)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the model server is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def url(self) -> str:
        """The chat completions endpoint."""
        return f"http://127.0.0.1:{self.port}{CHAT_COMPLETIONS_PATH}"

    def start(self) -> ModelServer:
        if self._server is None:
            server = _Server(self._address, _Handler)
            server.script = self.script
            server.request_timeout_s = self._request_timeout_s
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                daemon=True,
                name="otel-agents-model-server",
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (safe to call twice)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=REQUEST_TIMEOUT_S)
            self._thread = None

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
