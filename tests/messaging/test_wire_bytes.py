"""An envelope's wire form is UTF-8 JSON: non-ASCII text is not inflated into ``\\uXXXX``
escapes (6 bytes per CJK character, 12 per emoji), and what is signed is what is sent."""

from __future__ import annotations

import json

from otel_agents.messaging import AgentMessage, MessagePriority, MessageType, SecurityConfig


def envelope(payload: object) -> AgentMessage:
    return AgentMessage(
        "m1", MessageType.NOTIFICATION, MessagePriority.NORMAL, "a", "b", payload, 1.0, 2.0
    )


def test_non_ascii_text_is_sent_as_utf8_not_escaped() -> None:
    message = envelope({"text": "\u4e2d\u00e9\U0001f600" * 1000})
    wire = message.to_wire()
    assert wire == message.to_json().encode()
    assert "\u4e2d\u00e9\U0001f600".encode() in wire
    assert b"\\u" not in wire
    assert len(wire) < len(json.dumps(message.to_dict()).encode()) / 2
    assert AgentMessage.from_json(wire) == message


def test_a_lone_surrogate_is_sent_escaped_and_comes_back() -> None:
    """JSON's "\\ud800" escape allows a string UTF-8 cannot hold: that envelope is escaped."""
    message = envelope({"text": "caf\u00e9 \ud800"})
    wire = message.to_wire()
    assert b"\\ud800" in wire
    assert AgentMessage.from_json(wire) == message


def test_the_signature_covers_the_utf8_bytes_sent() -> None:
    security = SecurityConfig(signing_key="k" * 32)
    message = envelope({"text": "\u4e2d" * 10})
    wire = message.to_wire()
    security.verify(security.sign(message.message_id, wire), wire, message.message_id)
