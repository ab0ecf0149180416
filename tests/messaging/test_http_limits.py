"""Bounded input at the hub and the inboxes, on real uvicorn servers on 127.0.0.1.

Oversized bodies get a 413 before they are buffered, malformed signatures and absurdly
nested JSON get a 400 (never a 500), and an unknown-agent error stays small however many
agents are registered.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import _http
import pytest

from otel_agents.messaging import (
    AgentMessage,
    MessageTooLargeError,
    MessageType,
    UnknownMessageError,
)
from otel_agents.messaging._remote import RemoteAgent
from otel_agents.messaging._wire import from_wire
from tests.messaging.servers import (
    AUTH,
    ThreadServer,
    post_signed,
    security,
    start_hub,
    start_inbox,
)

pytestmark = pytest.mark.integration  # a hub and inboxes on 127.0.0.1

LIMIT = 64 * 1024


@pytest.fixture
def hub() -> Iterator[ThreadServer]:
    server = start_hub({"max_message_size": LIMIT})
    yield server
    server.stop()


@pytest.fixture
def inbox(hub: ThreadServer) -> Iterator[ThreadServer]:
    agent, server = start_inbox("agent-b", hub.url, {"max_message_size": LIMIT})
    yield server
    server.stop()
    asyncio.run(agent.aclose())


def raw_request(port: int, head: bytes, body: bytes) -> bytes:
    """Send a request's head and the start of its body, then read the answer without ever
    sending the rest: a server that waits for the whole body never answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer


def head(path: str, port: int, framing: str) -> bytes:
    auth = "".join(f"{k}: {v}\r\n" for k, v in AUTH.items())
    return (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n{auth}"
        f"content-type: application/json\r\n{framing}\r\n"
    ).encode()


@pytest.mark.parametrize("path", ["/messages", "/agents", "/agents/x/heartbeat", "/broadcast"])
def test_hub_refuses_a_declared_oversized_body_before_reading_it(
    hub: ThreadServer, path: str
) -> None:
    answer = raw_request(
        hub.port, head(path, hub.port, f"content-length: {50 * 1024 * 1024}\r\n"), b"[" * 1024
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_hub_refuses_a_chunked_body_once_it_passes_the_limit(hub: ThreadServer) -> None:
    chunk = b"x" * 8192
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // 8192 + 2))
    answer = raw_request(
        hub.port, head("/messages", hub.port, "transfer-encoding: chunked\r\n"), body
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_inbox_refuses_an_oversized_body_before_reading_it(inbox: ThreadServer) -> None:
    answer = raw_request(
        inbox.port, head("/inbox", inbox.port, f"content-length: {50 * 1024 * 1024}\r\n"), b"{"
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_sender_is_told_its_message_is_too_large_and_small_ones_still_go(
    hub: ThreadServer, inbox: ThreadServer
) -> None:
    async def scenario() -> list[object]:
        sender = RemoteAgent(
            "agent-a",
            "A",
            [],
            "http://127.0.0.1:1",
            hub.url,
            security=security(),
            config={"max_message_size": LIMIT},
        )
        try:
            await sender.register()
            sends = [
                sender.send_message("agent-b", MessageType.REQUEST, {"blob": "y" * 20_000})
                for _ in range(8)  # together over the limit: the batch must be split
            ]
            sends.append(sender.send_message("agent-b", MessageType.REQUEST, {"blob": "z" * LIMIT}))
            return await asyncio.gather(*sends, return_exceptions=True)
        finally:
            await sender.aclose()

    _http.post(
        hub.url + "/agents",
        json={"agent_id": "agent-b", "name": "B", "capabilities": [], "endpoint": inbox.url},
        headers=AUTH,
    ).raise_for_status()
    *small, large = asyncio.run(scenario())
    assert all(isinstance(result, str) for result in small), small
    assert isinstance(large, MessageTooLargeError)
    assert "max_message_size=65536" in str(large)


def test_a_non_ascii_signature_is_a_400_not_a_500(hub: ThreadServer) -> None:
    message = AgentMessage.new_id()
    body = (
        b'{"message_id":"%s","message_type":"request","priority":"normal",'
        b'"sender_id":"a","recipient_id":"b","created_at":1}' % message.encode()
    )
    headers = {**AUTH, **security().sign(message, body)}
    raw = [(k.encode(), v.encode()) for k, v in headers.items() if k != "x-message-signature"]
    raw.append((b"x-message-signature", "\u00e9".encode("latin-1") * 64))
    response = _http.post(hub.url + "/messages", content=body, headers=raw)
    assert response.status_code == 400, response.text
    assert "X-Message-Signature" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/messages", "/agents", "/agents/agent-b/heartbeat"])
def test_json_nested_5000_deep_is_a_400_not_a_500(hub: ThreadServer, path: str) -> None:
    body = b"[" * 5000 + b"]" * 5000
    response = post_signed(hub.url + path, body, "m1")
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_message"


def test_inbox_answers_json_nested_5000_deep_with_a_400(inbox: ThreadServer) -> None:
    body = b'{"a":' * 5000 + b"1" + b"}" * 5000
    response = post_signed(inbox.url + "/inbox", body, "m1")
    assert response.status_code == 400, response.text


def test_an_unknown_agent_error_does_not_list_the_registered_agents(hub: ThreadServer) -> None:
    with _http.Client(base_url=hub.url, headers=AUTH) as client:
        for n in range(60):
            client.post(
                "/agents",
                json={
                    "agent_id": f"worker-{n:04d}",
                    "name": "W",
                    "capabilities": [f"cap-{n}"],
                    "endpoint": f"http://127.0.0.1:{10000 + n}",
                },
            ).raise_for_status()
        missing = client.get("/agents/ghost")
        unknown_capability = client.get("/agents", params={"capability": "teleport"})
    assert missing.status_code == 404
    assert "worker-" not in missing.text
    assert len(missing.content) < 512
    assert "60 agents are registered" in missing.json()["detail"]
    assert unknown_capability.status_code == 404
    assert len(unknown_capability.content) < 1024


def test_an_unknown_message_id_is_an_unknown_message_error(hub: ThreadServer) -> None:
    """``GET /messages/{id}`` of an id the hub never saw answers ``unknown_message`` (404),
    not ``unknown_agent``; a client maps it back to UnknownMessageError."""
    with _http.Client(base_url=hub.url, headers=AUTH) as client:
        response = client.get("/messages/no-such-message")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_message"
    assert "max_message_history" in response.json()["detail"]
    assert "no-such-message" in response.json()["detail"]
    error = from_wire(response.json()["error"], response.json()["detail"], 404)
    assert type(error) is UnknownMessageError
