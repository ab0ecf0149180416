"""Registry, discovery, status and heartbeats (on an injected monotonic clock)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from otel_agents.messaging import AgentCommunicationProtocol, AgentStatus, StatusChange
from otel_agents.testing import TelemetryCapture
from tests.messaging.conftest import FakeClock


def test_find_agents_by_capability_returns_every_match_sorted_by_id(
    comm: AgentCommunicationProtocol,
) -> None:
    found = comm.find_agents_by_capability("monitoring")
    assert [agent.agent_id for agent in found] == ["analyst", "monitoring_agent"]


def test_registering_again_with_the_same_endpoint_updates_the_agent(
    comm: AgentCommunicationProtocol,
) -> None:
    comm.register_agent("analyst", "Analyst 2", ["forecasting"], "http://localhost:8002")
    agent = comm.get_agent("analyst")
    assert (agent.name, agent.capabilities) == ("Analyst 2", ("forecasting",))


def test_unregister_removes_the_agent_and_fails_its_queued_messages(
    comm: AgentCommunicationProtocol,
) -> None:
    message_id = comm.send_message("coordinator", "analyst", "request", {})
    comm.unregister_agent("analyst")
    assert [a.agent_id for a in comm.list_agents()] == ["coordinator", "monitoring_agent"]
    record = comm.get_message_status(message_id)
    assert (record.status.value, record.error_type) == ("failed", "recipient_unregistered")


def collect(comm: AgentCommunicationProtocol) -> list[StatusChange]:
    changes: list[StatusChange] = []
    comm.add_status_listener(changes.append)
    return changes


def test_missed_heartbeats_mark_an_agent_offline_once(
    make_comm: Any, clock: FakeClock, telemetry: TelemetryCapture
) -> None:
    comm = make_comm({"heartbeat_interval": 10, "heartbeat_miss_limit": 3})
    comm.register_agent("worker", "W", ["x"], "http://w")
    changes = collect(comm)
    clock.advance(30)
    assert comm.check_heartbeats() == []  # exactly three intervals is not yet a miss
    clock.advance(0.1)
    assert comm.check_heartbeats() == ["worker"]
    clock.advance(100)
    assert comm.check_heartbeats() == []  # offline once: no flapping
    assert comm.get_agent("worker").status is AgentStatus.OFFLINE
    assert [(c.previous, c.status, c.reason) for c in changes] == [
        (AgentStatus.ONLINE, AgentStatus.OFFLINE, "heartbeat_missed")
    ]
    offline = telemetry.points("agent.status.changes", {"agent.status": "offline"})
    assert [p.value for p in offline] == [1]


def test_heartbeats_keep_an_agent_online(make_comm: Any, clock: FakeClock) -> None:
    comm = make_comm({"heartbeat_interval": 10, "heartbeat_miss_limit": 2})
    comm.register_agent("worker", "W", ["x"], "http://w")
    for _ in range(10):
        clock.advance(15)
        comm.heartbeat("worker")
        assert comm.check_heartbeats() == []
    assert comm.get_agent("worker").status is AgentStatus.ONLINE


def test_an_offline_agent_recovers_when_heartbeats_resume(
    make_comm: Any, clock: FakeClock, telemetry: TelemetryCapture
) -> None:
    comm = make_comm({"heartbeat_interval": 1, "heartbeat_miss_limit": 1})
    comm.register_agent("worker", "W", ["x"], "http://w")
    changes = collect(comm)
    clock.advance(5)
    comm.check_heartbeats()
    comm.heartbeat("worker")
    assert comm.get_agent("worker").status is AgentStatus.ONLINE
    assert [(c.status, c.reason) for c in changes] == [
        (AgentStatus.OFFLINE, "heartbeat_missed"),
        (AgentStatus.ONLINE, "heartbeat"),
    ]
    by_status = {
        p.attributes["agent.status"]: p.value for p in telemetry.points("agent.registry.agents")
    }
    assert by_status["online"] == 1


def test_a_heartbeat_can_report_busy(comm: AgentCommunicationProtocol) -> None:
    comm.heartbeat("analyst", "busy")
    assert comm.get_agent("analyst").status is AgentStatus.BUSY


def test_a_failing_status_listener_does_not_stop_the_others(
    comm: AgentCommunicationProtocol,
) -> None:
    def broken(change: StatusChange) -> None:
        raise RuntimeError("listener bug")

    comm.add_status_listener(broken)
    changes = collect(comm)
    comm.update_agent_status("analyst", AgentStatus.BUSY)
    comm.update_agent_status("analyst", AgentStatus.ONLINE)
    assert [c.status for c in changes] == [AgentStatus.BUSY, AgentStatus.ONLINE]


def test_background_monitor_starts_and_stops(make_comm: Any) -> None:
    comm = make_comm({"heartbeat_interval": 0.01})
    comm.start()
    comm.start()
    comm.stop()
    comm.stop()
    assert not comm._monitor.running


def test_registering_starts_heartbeat_checks_without_start(
    make_comm: Any, clock: FakeClock
) -> None:
    """A silent agent goes offline though the user never called comm.start()."""
    comm = make_comm({"heartbeat_interval": 0.01, "heartbeat_miss_limit": 1})
    assert not comm._monitor.running
    comm.register_agent("worker", "W", ["x"], "http://w")
    clock.advance(10)  # ten missed intervals and more
    deadline = time.monotonic() + 10  # a hang guard, not a speed target
    while comm.get_agent("worker").status is not AgentStatus.OFFLINE:
        assert time.monotonic() < deadline, "the heartbeat monitor never ran"
        time.sleep(0.01)
    comm.stop()
    assert not comm._monitor.running


def test_heartbeat_monitor_false_leaves_checking_to_the_user(make_comm: Any) -> None:
    comm = make_comm({"heartbeat_interval": 0.01, "heartbeat_monitor": False})
    comm.register_agent("worker", "W", ["x"], "http://w")
    assert not comm._monitor.running


def test_a_registration_the_transport_refuses_changes_nothing(make_comm: Any) -> None:
    """``confirm`` (the broker's registration) raising: neither a new agent nor an update
    is stored, and no status change is said."""
    comm: AgentCommunicationProtocol = make_comm()
    comm.register_agent("a", "A", ["x"], "http://localhost:8001")
    changes: list[StatusChange] = []
    comm.registry.add_status_listener(changes.append)

    def refuse(info: Any) -> None:
        raise RuntimeError("refused")

    for agent_id in ("a", "b"):
        with pytest.raises(RuntimeError):
            comm.registry.register(agent_id, "New", ["y"], "http://localhost:8001", confirm=refuse)
    assert [(i.agent_id, i.name, i.capabilities) for i in comm.list_agents()] == [
        ("a", "A", ("x",))
    ]
    assert changes == []
