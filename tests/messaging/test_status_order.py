"""Status listeners and the status history see an agent's changes in the order its status
changed, even when threads change statuses while a listener runs, and a listener may call
back into the registry.

The interleavings are forced with threads started from inside a listener (a processing
thread's heartbeat arriving while a slow notifier handles the monitor's event), so each test
fails every time on a registry that records a change under its lock but tells the listeners
after releasing it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from otel_agents.messaging import AgentCommunicationProtocol, AgentStatus, StatusChange, _registry
from tests.messaging.conftest import FakeClock

DEADLINE = 30.0  # generous: the machine is shared; the tests assert behaviour, not speed

Event = tuple[str, str, str]


def _event(change: StatusChange) -> Event:
    return (change.agent_id, change.status.value, change.reason)


def _registered(make_comm: Any, *agents: str) -> AgentCommunicationProtocol:
    comm: AgentCommunicationProtocol = make_comm(
        {"heartbeat_interval": 1, "heartbeat_miss_limit": 1, "heartbeat_monitor": False}
    )
    for agent_id in agents:
        comm.register_agent(agent_id, agent_id, ["x"], f"local://{agent_id}")
    return comm


def _in_thread(target: Any, *args: Any) -> None:
    thread = threading.Thread(target=target, args=args)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), "the thread is stuck (a deadlock?)"


def test_a_heartbeat_during_the_monitors_events_reaches_listeners_after_them(
    make_comm: Any, clock: FakeClock
) -> None:
    """The monitor takes a0 and a1 offline; while a listener handles a0's event, a1's
    messages are processed in another thread (back online): listeners and history end with
    a1 online, as the registry has it."""
    comm = _registered(make_comm, "a0", "a1")
    registry = comm.registry
    events: list[Event] = []

    def slow_notifier(change: StatusChange) -> None:
        events.append(_event(change))
        if _event(change) == ("a0", "offline", "heartbeat_missed"):
            _in_thread(registry.alive, "a1")  # processing a1's messages meanwhile

    comm.add_status_listener(slow_notifier)
    history_before = len(registry.status_history.snapshot())
    clock.advance(10)  # both silent past heartbeat_interval * heartbeat_miss_limit
    _in_thread(registry.check_heartbeats)

    assert events == [
        ("a0", "offline", "heartbeat_missed"),
        ("a1", "offline", "heartbeat_missed"),
        ("a1", "online", "heartbeat"),
    ]
    history = [_event(c) for c in registry.status_history.snapshot()[history_before:]]
    assert history == events
    assert registry.get("a1").status is AgentStatus.ONLINE


def test_a_listener_calling_back_into_the_registry_keeps_every_listener_in_order(
    make_comm: Any, clock: FakeClock
) -> None:
    """The first listener puts an agent taken offline straight back online: the second
    listener still sees offline before online, and nothing waits on the registry lock."""
    comm = _registered(make_comm, "a0")
    registry = comm.registry
    first: list[Event] = []
    second: list[Event] = []

    def operator(change: StatusChange) -> None:
        first.append(_event(change))
        if change.status is AgentStatus.OFFLINE:
            registry.set_status(change.agent_id, AgentStatus.ONLINE, "operator")

    comm.add_status_listener(operator)
    comm.add_status_listener(lambda change: second.append(_event(change)))
    clock.advance(10)
    _in_thread(registry.check_heartbeats)

    expected = [("a0", "offline", "heartbeat_missed"), ("a0", "online", "operator")]
    assert first == expected
    assert second == expected
    assert registry.get("a0").status is AgentStatus.ONLINE


def test_a_hung_listener_costs_the_oldest_undelivered_changes_not_memory(
    make_comm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a listener hangs on one change, at most MAX_UNDELIVERED more wait; the oldest
    beyond are dropped and counted, and the rest are delivered, in order, once it returns."""
    monkeypatch.setattr(_registry, "MAX_UNDELIVERED", 3)
    comm = _registered(make_comm, "a0")
    registry = comm.registry
    hanging, release = threading.Event(), threading.Event()
    seen: list[Event] = []

    def hangs_once(change: StatusChange) -> None:
        seen.append(_event(change))
        if change.reason == "hang":
            hanging.set()
            assert release.wait(DEADLINE)

    comm.add_status_listener(hangs_once)
    stuck = threading.Thread(target=registry.set_status, args=("a0", "busy", "hang"))
    stuck.start()
    try:
        assert hanging.wait(DEADLINE)
        for i, status in enumerate(["online", "busy", "online", "busy", "online"]):
            registry.set_status("a0", status, f"change {i}")  # queued: another thread delivers
        assert registry.dropped_status_changes == 2
    finally:
        release.set()
        stuck.join(DEADLINE)
    assert not stuck.is_alive()
    assert [reason for _, _, reason in seen] == ["hang", "change 2", "change 3", "change 4"]
    assert len(registry.status_history.snapshot()) == 1 + 1 + 5  # registered, hang, changes
