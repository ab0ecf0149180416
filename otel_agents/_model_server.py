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

What it answers (the request checks, token counting and the script) is
:mod:`otel_agents._model_script`; this module is its HTTP side.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Mapping, Sequence
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from otel_agents._errors import invalid_value
from otel_agents._model_script import DEFAULT_SCRIPT, Answer, ChatScript, RequestError, error_body
from otel_agents._numbers import is_real
from otel_agents._threaded_server import BoundedThreading, DeadlineReader
from otel_agents.gateway._http1 import length_items

__all__ = [
    "CHAT_COMPLETIONS_PATH",
    "MAX_BODY_BYTES",
    "ModelServer",
]

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
#: Largest request body accepted: far above any demo prompt, far below memory trouble.
MAX_BODY_BYTES = 64 * 1024
#: Longest time one request may take to arrive, head and body together (counted from when the
#: server waits for it: a keep-alive connection idle this long is closed). Per request, not per
#: read: a client trickling a byte at a time must not hold a connection (and its thread).
REQUEST_TIMEOUT_S = 10.0
#: Connections served at once; more are closed at once (a local demo needs a handful).
MAX_CONNECTIONS = 64
_LOOPBACK = ("127.0.0.1", "localhost")


def _declared_length(headers: Message) -> int:
    """The body length a request declares, framed one way only (else a 4xx to close on).

    Two lengths, or a length beside ``Transfer-Encoding`` (which this server does not
    decode), let the client and a proxy in front of it frame the body differently: the rest
    would be served as another request on the keep-alive connection (request smuggling).
    The value is digits only, at most 18 of them, before ``int()`` sees it (``int`` takes
    ``+1_0`` and raises past 4300 digits), by the gateway's rule for the same header.
    """
    if headers.get_all("Transfer-Encoding"):
        raise RequestError(400, "Transfer-Encoding is not supported: send one Content-Length")
    declared = headers.get_all("Content-Length") or []
    if not declared:
        raise RequestError(411, "Content-Length is required")
    # Field values arrive decoded as latin-1 (http.client), so this encodes them back exactly.
    items = length_items(declared[0].encode("latin-1")) if len(declared) == 1 else None
    if items is None or len(items) != 1:
        raise RequestError(400, "send exactly one Content-Length: a whole number of bytes")
    return int(items[0])


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT_S  # writes; reads are bounded by the request's deadline
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY on each connection: a reply is two writes (the head at end_headers, then
    # the body), and on a keep-alive connection the body would wait for the client's
    # delayed ACK of the head (about 40 ms a call after a connection's first).
    disable_nagle_algorithm = True
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
            self._reply(404, error_body(404, f"unknown path {self.path[:100]!r}"), close=True)
            return
        try:
            length = _declared_length(self.headers)
        except RequestError as exc:
            self._reply(exc.status, error_body(exc.status, exc.message), close=True)
            return
        if length > MAX_BODY_BYTES:
            message = f"the body is larger than {MAX_BODY_BYTES} bytes"
            self._reply(413, error_body(413, message), close=True)
            return
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            message = f"the request did not arrive within {self._reader.timeout_s:g} s"
            self._reply(408, error_body(408, message), close=True)
            return
        status, answer = self.server.script.respond(body)
        self._reply(status, answer)

    def do_GET(self) -> None:
        self._reply(405, error_body(405, "only POST /v1/chat/completions"), close=True)

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
