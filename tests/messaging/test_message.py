"""The envelope: JSON round trips, enums on the wire."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, strategies as st

from otel_agents.messaging import (
    AgentMessage,
    InvalidMessageError,
    MessagePriority,
    MessageType,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
ids = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,39}", fullmatch=True).filter(
    lambda s: ".." not in s
)
messages = st.builds(
    AgentMessage,
    message_id=st.uuids().map(lambda u: u.hex),
    message_type=st.sampled_from(MessageType),
    priority=st.sampled_from(MessagePriority),
    sender_id=ids,
    recipient_id=ids,
    payload=json_values,
    created_at=st.floats(min_value=0, max_value=4e9),
    expires_at=st.none() | st.floats(min_value=0, max_value=4e9),
    headers=st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=4),
    conversation_id=st.none() | st.text(min_size=1, max_size=20),
    broadcast=st.booleans(),
)


@given(messages)
def test_envelope_round_trips_through_json_without_loss(message: AgentMessage) -> None:
    assert AgentMessage.from_json(message.to_json()) == message


@given(messages)
def test_envelope_round_trips_through_a_dict(message: AgentMessage) -> None:
    assert AgentMessage.from_dict(json.loads(json.dumps(message.to_dict()))) == message


def sample() -> dict[str, Any]:
    return AgentMessage(
        "m1",
        MessageType.REQUEST,
        MessagePriority.URGENT,
        "a",
        "b",
        {"k": [1, 2]},
        1.5,
        2.5,
        {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"},
    ).to_dict()


def test_wire_format_uses_lowercase_names() -> None:
    data = sample()
    assert (data["message_type"], data["priority"]) == ("request", "urgent")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"priority": "critical"}, "priority='critical' is not valid"),
        ({"message_type": 3}, "message_type=3 is not valid"),
        ({"headers": {"a": 1}}, "headers="),
        ({"created_at": "yesterday"}, "created_at='yesterday' is not valid"),
        ({"sender_id": ""}, "sender_id='' is not valid"),
        ({"message_id": ""}, "message_id='' is not valid"),
        ({"conversation_id": 5}, "conversation_id=5 is not valid"),
        ({"conversation_id": ""}, "conversation_id='' is not valid: expected a string of 1-256"),
        ({"conversation_id": "c" * 257}, r"conversation_id='ccc+\.\.\. is not valid"),
        ({"conversation_id": "c" * 200_000}, "expected a string of 1-256 characters or null"),
    ],
)
def test_from_dict_rejects_bad_fields(change: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidMessageError, match=match):
        AgentMessage.from_dict({**sample(), **change})


def test_a_conversation_id_of_256_characters_is_accepted_from_the_wire() -> None:
    """The same bound as the sending side's, so every id a sender may use arrives."""
    longest = "c" * 256
    assert AgentMessage.from_dict({**sample(), "conversation_id": longest}).conversation_id == (
        longest
    )


def test_from_dict_names_a_missing_field() -> None:
    data = sample()
    del data["recipient_id"]
    with pytest.raises(InvalidMessageError, match="missing the field 'recipient_id'"):
        AgentMessage.from_dict(data)


def test_from_json_rejects_text_that_is_not_json() -> None:
    with pytest.raises(InvalidMessageError, match="not valid JSON"):
        AgentMessage.from_json("{not json")


def test_priorities_order_urgent_first() -> None:
    assert sorted(MessagePriority, reverse=True) == [
        MessagePriority.URGENT,
        MessagePriority.HIGH,
        MessagePriority.NORMAL,
        MessagePriority.LOW,
    ]
