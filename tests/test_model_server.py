"""The local OpenAI-compatible model server: OpenAI's JSON shapes, scripted and deterministic,
strict and bounded with hostile input."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import _http
import httpx
import pytest

from otel_agents._errors import InvalidValueError
from otel_agents._model_script import TOKENS_PER_MESSAGE, Answer, ChatScript
from otel_agents._model_server import MAX_BODY_BYTES, ModelServer

HELLO = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "say hello to me"}]}
SCRIPT = (
    Answer("Hello there.", 3),
    Answer("", 0, "tool_calls", tool="web_search"),
    Answer("Cut", 7, "length"),
)


def _body(request: object) -> bytes:
    return json.dumps(request).encode()


# -- the script, without a socket --------------------------------------------------------------
def test_a_completion_has_openais_shape_usage_and_finish_reason() -> None:
    status, body = ChatScript(SCRIPT).respond(_body(HELLO))

    assert status == 200
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-mini"
    (choice,) = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": "Hello there."}
    assert choice["finish_reason"] == "stop"
    prompt = TOKENS_PER_MESSAGE + 4  # four words
    assert body["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": 3,
        "total_tokens": prompt + 3,
    }


def test_each_model_walks_through_the_script_on_its_own() -> None:
    script = ChatScript(SCRIPT)
    other = {**HELLO, "model": "local-llama"}

    reasons = []
    for request in (HELLO, other, HELLO, HELLO, other, HELLO):
        _, body = script.respond(_body(request))
        reasons.append((body["model"], body["choices"][0]["finish_reason"]))

    assert reasons == [
        ("gpt-4o-mini", "stop"),
        ("local-llama", "stop"),
        ("gpt-4o-mini", "tool_calls"),
        ("gpt-4o-mini", "length"),
        ("local-llama", "tool_calls"),
        ("gpt-4o-mini", "stop"),
    ]
    assert script.served == 6


def test_a_tool_call_answer_names_the_function_and_has_no_content() -> None:
    script = ChatScript(SCRIPT[1:])

    _, body = script.respond(_body(HELLO))

    message = body["choices"][0]["message"]
    assert message["content"] is None
    (call,) = message["tool_calls"]
    assert call["type"] == "function"
    assert call["function"] == {"name": "web_search", "arguments": "{}"}


def test_a_scripted_failure_is_an_openai_style_error() -> None:
    status, body = ChatScript([Answer(status=503)]).respond(_body(HELLO))

    assert status == 503
    assert body["error"]["type"] == "server_error"
    assert "Service Unavailable" in body["error"]["message"]


@pytest.mark.parametrize(
    ("request_body", "param"),
    [
        (b"{not json", None),
        (b"[]", None),
        (_body({"messages": HELLO["messages"]}), "model"),
        (_body({"model": "", "messages": HELLO["messages"]}), "model"),
        (_body({"model": "m"}), "messages"),
        (_body({"model": "m", "messages": []}), "messages"),
        (_body({"model": "m", "messages": ["hi"]}), "messages"),
        (_body({"model": "m", "messages": [{"role": "user", "content": 3}]}), "messages"),
        (_body({**HELLO, "stream": True}), "stream"),
        (b"\xff\xfe", None),
        (b"[" * 60_000, None),  # nested too deep for json: RecursionError, under the bound
        # An integer over int()'s 4300-digit limit: ValueError, not JSONDecodeError.
        (_body(HELLO)[:-1] + b', "seed": ' + b"1" * 5000 + b"}", None),
    ],
)
def test_a_malformed_request_is_a_400_naming_the_field(
    request_body: bytes, param: str | None
) -> None:
    script = ChatScript(SCRIPT)

    status, body = script.respond(request_body)

    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param
    assert script.served == 0  # a bad request does not advance the script


def test_content_parts_count_their_text() -> None:
    parts = [{"type": "text", "text": "two words"}, {"type": "image_url", "image_url": {}}]
    request = {"model": "m", "messages": [{"role": "user", "content": parts}]}

    _, body = ChatScript(SCRIPT).respond(_body(request))

    assert body["usage"]["prompt_tokens"] == TOKENS_PER_MESSAGE + 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"finish_reason": "done"},
        {"completion_tokens": -1},
        {"completion_tokens": 1.5},
        {"delay_s": 60.0},
        {"delay_s": "1"},  # a bare TypeError from the comparison, naming nothing
        {"delay_s": -0.5},
        {"delay_s": float("nan")},
        {"delay_s": True},
        {"status": 99},
        {"status": 599},  # no phrase: HTTPStatus(599) raised on every request
        {"status": 204},  # a status without a body
        {"tool": "search"},  # a tool call finishes with tool_calls
    ],
)
def test_a_bad_scripted_answer_is_refused_naming_the_field(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidValueError, match=next(iter(kwargs)).split("_s")[0]):
        Answer(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("port", [-1, 65536, 2**70, 80.0, "8080", True, None])
def test_a_bad_port_is_refused_when_the_server_is_made_naming_it(port: object) -> None:
    """Not at start(), as a bare error naming nothing."""
    with pytest.raises(InvalidValueError, match=r"^port=.* is not valid"):
        ModelServer(port=port)  # type: ignore[arg-type]


def test_the_server_refuses_a_host_that_is_not_loopback() -> None:
    with pytest.raises(InvalidValueError, match="host"):
        ModelServer(host="0.0.0.0")


# -- over HTTP ---------------------------------------------------------------------------------
@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(SCRIPT) as running:
        yield running


@pytest.mark.integration
def test_the_server_answers_chat_completions_over_http(server: ModelServer) -> None:
    response = _http.post(server.url, json=HELLO, timeout=10)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["choices"][0]["message"]["content"] == "Hello there."
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"


@pytest.mark.integration
def test_the_server_listens_on_loopback_only(server: ModelServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass
    assert server._server is not None
    assert server._server.server_address[0] == "127.0.0.1"


@pytest.mark.integration
def test_a_keep_alive_connection_sends_each_reply_without_waiting_for_acks(
    server: ModelServer,
) -> None:
    """The server's side of a kept-alive connection has TCP_NODELAY: a reply's body does not
    wait for the client's delayed ACK of its head."""
    with _http.Client(timeout=10) as client:
        for _ in range(2):
            assert client.post(server.url, json=HELLO).status_code == 200
        assert server._server is not None
        (connection,) = server._server._open  # the one connection both calls used
        assert connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


@pytest.mark.integration
def test_an_oversized_body_is_refused_before_it_is_read(server: ModelServer) -> None:
    response = _http.post(server.url, content=b"x" * (MAX_BODY_BYTES + 1), timeout=10)

    assert response.status_code == 413
    assert server.script.served == 0


@pytest.mark.integration
def test_an_integer_past_the_int_digit_limit_is_answered_400_on_the_same_connection(
    server: ModelServer,
) -> None:
    """json.loads raises a plain ValueError for it: answered, not a dropped connection."""
    huge = _body(HELLO)[:-1] + b', "seed": ' + b"1" * 5000 + b"}"
    with _http.Client(timeout=10) as client:
        bad = client.post(server.url, content=huge)
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "invalid_request_error"
        assert client.post(server.url, json=HELLO).status_code == 200
    assert server.script.served == 1


@pytest.mark.integration
def test_wrong_paths_and_methods_are_refused(server: ModelServer) -> None:
    with _http.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
        assert client.post("/v1/completions", json=HELLO).status_code == 404
        assert client.get("/v1/chat/completions").status_code == 405
        bad = client.post("/v1/chat/completions", content=b"{", headers={"x": "y"})
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "invalid_request_error"
        # The connection stays usable after errors: the next call is answered.
        assert client.post("/v1/chat/completions", json=HELLO).status_code == 200


@pytest.mark.integration
def test_concurrent_calls_each_get_one_answer(server: ModelServer) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        status = _http.post(server.url, json=HELLO, timeout=10).status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert results == [200] * 8
    assert server.script.served == 8


@pytest.mark.integration
def test_stop_frees_the_port_and_is_safe_twice() -> None:
    model_server = ModelServer(SCRIPT).start()
    port = model_server.port
    model_server.stop()
    model_server.stop()

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    with pytest.raises(httpx.ConnectError):
        _http.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=HELLO, timeout=5)


@pytest.mark.integration
def test_the_real_openai_client_reads_the_answers(server: ModelServer) -> None:
    """OpenAI's own Python client parses the server's answers: usage, finish reasons and tool
    calls, and raises its own error type on a scripted failure."""
    import openai

    with openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0) as client:
        messages: list[Any] = [{"role": "user", "content": "say hello to me"}]
        first = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        second = client.chat.completions.create(model="gpt-4o-mini", messages=messages)

    assert first.choices[0].message.content == "Hello there."
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (
        TOKENS_PER_MESSAGE + 4,
        3,
    )
    assert second.choices[0].finish_reason == "tool_calls"
    (call,) = second.choices[0].message.tool_calls or []
    assert call.function.name == "web_search"  # type: ignore[union-attr]


@pytest.mark.integration
def test_the_real_openai_client_raises_on_a_scripted_outage() -> None:
    import openai

    with (
        ModelServer([Answer(status=503)]) as failing,
        openai.OpenAI(base_url=failing.base_url, api_key="local", max_retries=0) as client,
        pytest.raises(openai.InternalServerError),
    ):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )


def _exchange(port: int, raw: bytes) -> bytes:
    """Send ``raw`` on a new connection; everything the server answers until it closes."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(raw)
        while len(answer) < 100_000:  # bounded; the server closes after its answer
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


@pytest.mark.integration
@pytest.mark.parametrize(
    "framing",
    [
        # int() accepts signs, underscores and spaces; HTTP's Content-Length is digits.
        b"Content-Length: +2\r\n",
        b"Content-Length: 1_0\r\n",
        b"Content-Length: -0\r\n",
        b"Content-Length: 0x2\r\n",
        # int() of more than 4300 digits raised ValueError in do_POST: no answer at all.
        b"Content-Length: " + b"0" * 5000 + b"2\r\n",
        b"Content-Length: " + b"9" * 19 + b"\r\n",
        # Framing a proxy could read otherwise: the rest was served as a second request.
        b"Content-Length: 2\r\nContent-Length: 2\r\n",
        b"Content-Length: 2\r\nContent-Length: 200\r\n",
        b"Content-Length: 2, 2\r\n",
        b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\n",
    ],
    ids=lambda framing: framing[:40].decode(),
)
def test_a_request_framed_other_than_by_one_content_length_is_400_and_closed(
    server: ModelServer, framing: bytes
) -> None:
    """Answered 400 before a byte of the body is read, and the connection closed, so
    nothing after the head is ever parsed as another request."""
    body = _body(HELLO)
    smuggled = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n"
    answer = _exchange(server.port, head + b"{}" + smuggled)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1
    assert b"Connection: close" in answer
    assert server.script.served == 0


@pytest.mark.integration
def test_a_request_without_content_length_is_411(server: ModelServer) -> None:
    answer = _exchange(server.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411 "), answer[:200]
    assert server.script.served == 0


@pytest.mark.integration
def test_one_content_length_with_leading_zeros_is_read_as_its_number(server: ModelServer) -> None:
    body = _body(HELLO)
    raw = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    answer = _exchange(server.port, raw + b"Content-Length: 000%d\r\n\r\n%s" % (len(body), body))
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert server.script.served == 1


@pytest.mark.integration
def test_a_keep_alive_connection_is_not_served_after_stop() -> None:
    server = ModelServer().start()
    url = server.url
    with _http.Client(timeout=5) as client:
        assert client.post(url, json=HELLO).status_code == 200
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.post(url, json=HELLO)
    assert server.script.served == 1


# -- a deadline per request, not per read ------------------------------------------------------
#: The injected deadline of these tests, and how often their slow client sends one byte: each
#: read is answered long before a per-read timeout, the request never within the deadline.
DEADLINE_S = 0.5
TRICKLE_S = 0.05
#: Bytes the slow client sends at most (TRICKLE_S apart: 20 s, far past the deadline).
TRICKLE_BYTES = 400
SLOW_HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n"


def _trickle(connection: socket.socket) -> bytes | None:
    """Send a byte every TRICKLE_S until the server answers or closes (at most
    TRICKLE_BYTES): everything it sent until it closed, None when it did neither."""
    for _ in range(TRICKLE_BYTES):
        try:
            connection.sendall(b"a")
        except OSError:  # closed by the server: what it answered is still to be read
            break
        readable, _, _ = select.select([connection], [], [], TRICKLE_S)
        if readable:
            break
    else:
        return None
    answer = b""
    for _ in range(100):  # a short answer, then the end of the stream
        try:
            chunk = connection.recv(4096)
        except ConnectionResetError:
            break
        if not chunk:
            break
        answer += chunk
    else:
        raise AssertionError(f"the server did not close the connection: {answer[:200]!r}")
    return answer


@pytest.fixture
def strict_server() -> Iterator[ModelServer]:
    with ModelServer(SCRIPT, request_timeout_s=DEADLINE_S) as running:
        yield running


@pytest.mark.integration
def test_a_body_trickled_past_the_request_deadline_is_answered_408_and_closed(
    strict_server: ModelServer,
) -> None:
    with socket.create_connection(("127.0.0.1", strict_server.port), timeout=10) as connection:
        connection.sendall(SLOW_HEAD)
        answer = _trickle(connection)

    assert answer is not None, "still reading the body after TRICKLE_BYTES"
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"Connection: close" in answer
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["message"] == f"the request did not arrive within {DEADLINE_S:g} s"
    assert strict_server.script.served == 0


@pytest.mark.integration
def test_a_head_trickled_past_the_request_deadline_closes_the_connection(
    strict_server: ModelServer,
) -> None:
    with socket.create_connection(("127.0.0.1", strict_server.port), timeout=10) as connection:
        connection.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nX-Slow: ")
        answer = _trickle(connection)

    assert answer == b"", "still reading the head after TRICKLE_BYTES" if answer is None else answer
    assert strict_server.script.served == 0


@pytest.mark.integration
def test_a_trickling_client_does_not_keep_others_out(strict_server: ModelServer) -> None:
    """Its connection ends at the deadline; a normal request is answered meanwhile."""
    with socket.create_connection(("127.0.0.1", strict_server.port), timeout=10) as slow:
        slow.sendall(SLOW_HEAD)
        assert _http.post(strict_server.url, json=HELLO, timeout=10).status_code == 200
        answer = _trickle(slow)
    assert answer is not None, "still reading the body after TRICKLE_BYTES"
    assert answer.startswith(b"HTTP/1.1 408")


@pytest.mark.integration
def test_each_request_of_a_keep_alive_connection_has_its_own_deadline() -> None:
    """Requests on one connection, paused half a deadline apart, outlast one deadline in all:
    each is answered on the same connection."""
    deadline = 2.0
    with ModelServer(SCRIPT, request_timeout_s=deadline) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            sockets = []
            for number in range(4):
                if number:
                    time.sleep(deadline / 2)
                connection.request("POST", "/v1/chat/completions", _body(HELLO))
                response = connection.getresponse()
                assert response.status == 200
                response.read()
                sockets.append(connection.sock)
        finally:
            connection.close()
        assert len(set(map(id, sockets))) == 1
        assert server.script.served == 4


@pytest.mark.parametrize("timeout", [0, -1.0, float("inf"), float("nan"), True, "10"])
def test_a_bad_request_timeout_is_refused_naming_it(timeout: object) -> None:
    with pytest.raises(InvalidValueError, match="request_timeout_s"):
        ModelServer(request_timeout_s=timeout)  # type: ignore[arg-type]
