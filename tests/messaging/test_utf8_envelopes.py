"""Envelopes travel as UTF-8 JSON, so what the hub accepted is what its recipient accepts.

The hub used to check ``max_message_size`` on the bytes it received, then forward its own
``\\uXXXX``-escaped JSON: a 900 KB UTF-8 payload of non-ASCII text grew to 1.8 MB at the
inbox (6 times per CJK character, 12 per emoji), which refused it (413) and the sender got
a 502. Now every hop sends, signs and counts UTF-8 JSON, and the hub refuses (413) at
admission a message whose own serialization would pass ``max_message_size``.

A real hub and a real RemoteAgent inbox (uvicorn on 127.0.0.1, free ports).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import _http
import pytest
from _servers import ThreadServer

from otel_agents.messaging import AgentMessage, MessagePriority, MessageType
from otel_agents.messaging._remote import RemoteAgent
from tests.messaging.servers import AUTH, post_signed, start_hub, start_inbox

pytestmark = pytest.mark.integration  # a hub and an inbox on 127.0.0.1

#: ~870 KB as UTF-8 (within the default 1 MiB); 1.86 MB as \\uXXXX escapes.
TEXT = "\u4e2d" * 250_000 + "\U0001f600" * 30_000


@pytest.fixture
def network() -> Iterator[tuple[ThreadServer, RemoteAgent, ThreadServer]]:
    """A hub with the default limits, a registered sender ``a`` and an inbox ``b``."""
    hub = start_hub()
    agent, inbox = start_inbox("b", hub.url)
    try:
        for agent_id, endpoint in (("a", "http://127.0.0.1:1"), ("b", inbox.url)):
            registration = {"agent_id": agent_id, "name": agent_id, "capabilities": []}
            answer = _http.post(
                hub.url + "/agents", json={**registration, "endpoint": endpoint}, headers=AUTH
            )
            answer.raise_for_status()
        yield hub, agent, inbox
    finally:
        inbox.stop()
        hub.stop()
        asyncio.run(agent.aclose())


def envelope(payload: Any) -> AgentMessage:
    now = time.time()
    return AgentMessage(
        AgentMessage.new_id(),
        MessageType.TASK_ASSIGNMENT,
        MessagePriority.NORMAL,
        "a",
        "b",
        payload,
        now,
        now + 60,
    )


def test_a_900_kb_non_ascii_payload_is_delivered_and_handled(
    network: tuple[ThreadServer, RemoteAgent, ThreadServer],
) -> None:
    """Sent as a client other than ours would (UTF-8 JSON, signed), it reaches the inbox and
    its handler gets the text back intact."""
    hub, agent, _inbox = network
    message = envelope({"text": TEXT})
    body = json.dumps(message.to_dict(), ensure_ascii=False).encode()
    assert 800_000 < len(body) < 1_048_576 < len(message.to_dict()["payload"]["text"]) * 6
    handled: list[Any] = []
    agent.on()(lambda received: handled.append(received.payload))

    answer = post_signed(hub.url + "/messages", body, message.message_id)

    assert answer.status_code == 202, answer.text[:300]
    assert len(agent.queue) == 1
    assert asyncio.run(agent.process_next()).message_id == message.message_id
    assert handled == [{"text": TEXT}]


def test_the_hub_refuses_at_admission_what_it_would_forward_over_the_limit(
    network: tuple[ThreadServer, RemoteAgent, ThreadServer],
) -> None:
    """Within the limit as sent, over it as the hub writes it (``1e9`` becomes
    ``1000000000.0``): a 413 to the sender, nothing forwarded for the inbox to refuse."""
    hub, agent, _inbox = network
    message = envelope({"n": [1.0e9] * 100_000})
    body = json.dumps(message.to_dict()).replace("1000000000.0", "1e9").encode()
    assert len(body) < 1_048_576 < len(message.to_wire())

    answer = post_signed(hub.url + "/messages", body, message.message_id)

    assert answer.status_code == 413, answer.text[:300]
    assert answer.json()["error"] == "too_large"
    assert "as the hub forwards it, over max_message_size=1048576" in answer.json()["detail"]
    assert len(agent.queue) == 0
