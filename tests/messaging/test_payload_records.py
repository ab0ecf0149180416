"""What a message log keeps of payloads, and its count of unsettled bytes.

The in-process protocol keeps payloads (its users read them from the history); an agent's
inbox drops one once its message is settled and counts the wire bytes of the unsettled ones
(``max_queued_bytes``); the hub keeps a digest only. No servers: the log itself.
"""

from __future__ import annotations

import time

import pytest

from otel_agents.messaging import AgentCommunicationProtocol, AgentMessage, QueueFullError
from otel_agents.messaging._message import new_message
from otel_agents.messaging._records import (
    MessageLog,
    MessageStatus,
    Payloads,
    payload_digest,
    without_payload,
)


def message(payload: object) -> AgentMessage:
    made, _ = new_message("a", "b", "request", payload, "normal", now=time.time(), timeout=60)
    made.headers["traceparent"] = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    return made


def test_a_digest_log_keeps_neither_payload_nor_headers_only_the_payload_digest() -> None:
    log = MessageLog(10, payloads=Payloads.DIGEST)
    sent = message({"b": [1, 2], "a": "x" * 1000})
    record = log.add(sent, 1.0)
    assert (record.message.payload, record.message.headers) == (None, {})
    assert record.digest == payload_digest({"a": "x" * 1000, "b": [1, 2]})  # key order aside
    assert record.payload_key() == payload_digest(sent.payload)
    assert sent.payload == {"b": [1, 2], "a": "x" * 1000}  # the message itself is untouched
    assert sent.headers


def test_payload_digests_tell_different_json_values_apart() -> None:
    assert payload_digest({"n": 1}) != payload_digest({"n": 2})
    assert payload_digest([1, 2]) != payload_digest([2, 1])
    assert payload_digest(None) != payload_digest({})


def test_an_inbox_log_counts_unsettled_bytes_and_drops_a_payload_once_settled() -> None:
    log = MessageLog(10, keep_unsettled=True, payloads=Payloads.UNSETTLED)
    first, second = message({"n": 1}), message({"n": 2})
    log.add(first, 1.0, 100)
    log.add(second, 1.0, 50)
    assert log.unsettled_bytes == 150
    record = log.get(first.message_id)
    assert record is not None
    assert record.message.payload == {"n": 1}  # queued: kept
    log.update(first.message_id, MessageStatus.PROCESSED, 2.0)
    assert log.unsettled_bytes == 50
    assert record.message.payload is None
    assert first.payload == {"n": 1}  # a handler's copy is another object
    log.update(first.message_id, MessageStatus.FAILED, 3.0)  # settled twice: counted once
    assert log.unsettled_bytes == 50
    log.add(second, 4.0, 70)  # the same id again replaces its bytes
    assert log.unsettled_bytes == 70


def test_check_bytes_refuses_past_the_limit_naming_max_queued_bytes() -> None:
    log = MessageLog(10, keep_unsettled=True, max_unsettled_bytes=100)
    log.add(message({}), 1.0, 60)
    log.check_bytes(40, "b")  # exactly at the limit: taken
    with pytest.raises(
        QueueFullError, match=r"holds 60 bytes .*this one is 41 \(max_queued_bytes=100\)"
    ):
        log.check_bytes(41, "b")
    with pytest.raises(QueueFullError, match="raise max_queued_bytes above max_message_size"):
        log.check_bytes(101, "b")


def test_a_log_without_a_byte_limit_takes_any_size() -> None:
    MessageLog(10).check_bytes(10**12, "b")


def test_a_dropped_record_releases_its_bytes() -> None:
    log = MessageLog(1)
    log.add(message({}), 1.0, 30)
    log.add(message({}), 1.0, 20)  # the first record is dropped (max 1)
    assert log.unsettled_bytes == 20


def test_the_in_process_protocol_history_keeps_payloads() -> None:
    """Its users read payloads from ``get_message_history``: unchanged."""
    comm = AgentCommunicationProtocol({"heartbeat_monitor": False})
    for agent in ("a", "b"):
        comm.register_agent(agent, agent, [], f"local://{agent}")
    comm.send_message("a", "b", "request", {"task": "scan"})
    comm.process_next("b")
    (record,) = comm.get_message_history()
    assert record.status is MessageStatus.PROCESSED
    assert record.message.payload == {"task": "scan"}


def test_without_payload_keeps_the_envelope_fields_records_show() -> None:
    sent = message({"big": "x" * 100})
    bare = without_payload(sent)
    assert (bare.message_id, bare.sender_id, bare.recipient_id) == (
        sent.message_id,
        sent.sender_id,
        sent.recipient_id,
    )
    assert (bare.created_at, bare.expires_at, bare.priority) == (
        sent.created_at,
        sent.expires_at,
        sent.priority,
    )
    assert len(bare.to_json()) < 400
