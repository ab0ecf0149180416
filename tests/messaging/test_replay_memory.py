"""The replay memory: every signature of the replay window is remembered, and no more."""

from __future__ import annotations

import hashlib

import pytest

from otel_agents.messaging import SecurityConfig
from otel_agents.messaging._errors import SecurityError
from otel_agents.messaging._message import AgentMessage
from otel_agents.messaging._replay import ReplayMemory


def _signature(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def test_a_signature_seen_within_the_window_is_a_replay() -> None:
    memory = ReplayMemory()
    assert not memory.seen(_signature(1), 1000.0, 300.0)
    assert memory.seen(_signature(1), 1299.0, 300.0)
    assert not memory.seen(_signature(2), 1299.0, 300.0)


def test_a_signature_older_than_the_window_and_a_bucket_is_forgotten() -> None:
    memory = ReplayMemory()
    memory.seen(_signature(1), 1000.0, 300.0)
    # Kept at most a quarter of the window past it (its bucket is dropped whole).
    assert not memory.seen(_signature(1), 1000.0 + 300.0 + 300.0 / 4 + 0.01, 300.0)


def test_the_memory_holds_the_window_not_the_whole_history() -> None:
    """At a steady rate the memory stays at rate x (window + one bucket), whatever the total."""
    memory = ReplayMemory()
    window, rate = 10.0, 200  # signatures per second, over 30 windows
    for n in range(30 * int(window) * rate):
        assert not memory.seen(_signature(n), n / rate, window)
        assert len(memory) <= rate * (window + window / 4) + 1


def test_signatures_in_compacted_buckets_are_still_found() -> None:
    memory = ReplayMemory()
    for n in range(1000):  # spread over most of the window: several closed buckets
        assert not memory.seen(_signature(n), 1000.0 + n * 0.25, 300.0)
    assert all(memory.seen(_signature(n), 1250.0, 300.0) for n in range(0, 1000, 7))
    assert not memory.seen(_signature(5000), 1250.0, 300.0)


def test_a_replayed_envelope_is_still_rejected_by_verify() -> None:
    now = [5000.0]
    security = SecurityConfig(signing_key="k", clock=lambda: now[0])
    message_id = AgentMessage.new_id()
    headers = security.sign(message_id, b"{}")
    security.verify(headers, b"{}", message_id)
    now[0] += 299.0
    with pytest.raises(SecurityError) as caught:
        security.verify(headers, b"{}", message_id)
    assert caught.value.reason == "replayed"
    # A broker's redelivery of the same copy is no replay.
    security.verify(headers, b"{}", message_id, redelivery=True)


def test_message_ids_are_distinct_32_hex_digits() -> None:
    ids = {AgentMessage.new_id() for _ in range(5000)}  # more than one pool refill
    assert len(ids) == 5000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
