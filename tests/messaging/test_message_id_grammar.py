"""Message ids have a grammar (``MESSAGE_ID_GRAMMAR``), checked wherever a message is built:
an id travels in URL paths and headers and is written in the hub's and agents' log lines,
so a line break or an escape sequence in one would forge a log line."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import _http
import pytest
from _servers import ThreadServer

from otel_agents.messaging import AgentMessage, InvalidMessageError, MessagePriority, MessageType
from otel_agents.messaging._hub import create_hub, create_hub_app

FORGED = "m1\x1b]0;PWNED\x07\n2026-12-02 00:00:00,000 INFO agent root is now online (registered)"


def envelope(message_id: Any) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "message_type": "task_assignment",
        "priority": "normal",
        "sender_id": "snd",
        "recipient_id": "rcv",
        "payload": {},
        "created_at": time.time(),
        "expires_at": None,
        "headers": {},
    }


def build(message_id: Any) -> AgentMessage:
    return AgentMessage(
        message_id, MessageType.REQUEST, MessagePriority.NORMAL, "snd", "rcv", {}, 1.0
    )


GOOD = ["m1", "0" * 128, "a:b.c-d_e", "_x", "0123456789abcdef" * 2, "urn:task:42"]
BAD = ["", "x" * 129, "a b", "a/b", "..", ".hidden", "-x", "a\nb", FORGED, "é", "a%0Ab", 7, None]


@pytest.mark.parametrize("message_id", GOOD)
def test_ids_of_the_grammar_are_accepted_by_the_constructor_and_from_dict(
    message_id: str,
) -> None:
    assert build(message_id).message_id == message_id
    assert AgentMessage.from_dict(envelope(message_id)).message_id == message_id


def test_generated_ids_are_of_the_grammar() -> None:
    for _ in range(1000):
        build(AgentMessage.new_id())


@pytest.mark.parametrize("message_id", BAD)
def test_other_ids_are_refused_by_the_constructor_and_from_dict_naming_message_id(
    message_id: Any,
) -> None:
    for make in (build, lambda x: AgentMessage.from_dict(envelope(x))):
        with pytest.raises(InvalidMessageError) as raised:
            make(message_id)
        text = str(raised.value)
        assert text.startswith("message_id=")
        assert "ASCII letters, digits and _ . : -" in text
        assert "\n" not in text
        assert "\x1b" not in text
        assert len(text) < 400


@pytest.mark.integration  # a hub served on 127.0.0.1
def test_the_hub_refuses_a_message_whose_id_would_forge_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``POST /messages`` with a line break and escapes in the id: 400 ``invalid_message``,
    and no line of the hub's log holds them."""
    hub = ThreadServer(create_hub_app(create_hub())).start()
    try:
        for agent_id in ("snd", "rcv"):  # both known: only the id can be refused
            registration = {
                "agent_id": agent_id,
                "name": agent_id,
                "capabilities": [],
                "endpoint": "http://127.0.0.1:1",
            }
            _http.post(hub.url + "/agents", json=registration, timeout=10).raise_for_status()
        with caplog.at_level(logging.INFO, logger="otel_agents.messaging"):
            answer = _http.post(
                hub.url + "/messages",
                content=json.dumps(envelope(FORGED)),
                headers={"content-type": "application/json", "x-agent-id": "snd"},
                timeout=10,
            )
    finally:
        hub.stop()
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_message"
    assert answer.json()["detail"].startswith("message_id='m1\\x1b]0;PWNED\\x07\\n2026")
    for record in caplog.records:
        assert "\n" not in record.getMessage()
        assert "\x1b" not in record.getMessage()
