"""An in-process agent that keeps processing its messages stays online.

Processing an agent's messages in this process (``process_next``, ``process_pending``,
``serve``) is its heartbeat, refreshed at most once per quarter of ``heartbeat_interval``;
before, only an explicit ``heartbeat()`` counted and a busy agent went offline after the
seed's 30 s x 3, so broadcasts skipped it. Fake clocks, no sockets.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from otel_agents.messaging import AgentCommunicationProtocol, AgentStatus, MessageType
from otel_agents.messaging._protocol_process import BEAT_FRACTION
from otel_agents.messaging._registry import AgentInfo
from otel_agents.messaging._transport import InProcessTransport
from tests.messaging.conftest import FakeClock

DEADLINE = 30.0  # generous: the machine is shared; the tests assert behaviour, not speed


class CountingTransport(InProcessTransport):
    """In-process queues that count the heartbeats they are told about (or fail them)."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.beats: list[str] = []
        self.fail = fail

    def heartbeat(self, info: AgentInfo) -> None:
        self.beats.append(info.agent_id)
        if self.fail:
            raise ConnectionError("the broker is down")


def _seed_pair(make_comm: Any, **kwargs: Any) -> AgentCommunicationProtocol:
    """The seed's defaults (30 s x 3), checked by hand rather than by the thread."""
    comm: AgentCommunicationProtocol = make_comm({"heartbeat_monitor": False}, **kwargs)
    comm.register_agent("monitoring_agent", "System Monitor", ["monitoring"], "http://m:8001")
    comm.register_agent("coordinator", "Coordinator", ["planning"], "http://c:8000")
    return comm


def test_an_agent_processing_a_message_every_second_stays_online(
    make_comm: Any, clock: FakeClock
) -> None:
    """The review's scenario: two minutes of work, one message a second, no heartbeat()."""
    comm = _seed_pair(make_comm)
    processed = 0
    for second in range(120):
        clock.advance(1)
        comm.send_message(
            "coordinator", "monitoring_agent", MessageType.TASK_ASSIGNMENT, {"n": second}
        )
        processed += comm.process_pending("monitoring_agent")
        assert "monitoring_agent" not in comm.check_heartbeats()

    assert processed == 120
    assert comm.get_agent("monitoring_agent").status is AgentStatus.ONLINE
    ids = comm.broadcast_message("coordinator", MessageType.NOTIFICATION, {"all": "hands"})
    assert len(ids) == 1
    assert comm.get_queue_size("monitoring_agent") == 1


def test_an_agent_that_stops_processing_still_goes_offline(
    make_comm: Any, clock: FakeClock
) -> None:
    """Processing is a heartbeat, not immunity: silence past the limit is still offline."""
    comm = _seed_pair(make_comm)
    comm.process_pending("monitoring_agent")
    clock.advance(30 * 3 + 1)

    assert "monitoring_agent" in comm.check_heartbeats()
    assert comm.get_agent("monitoring_agent").status is AgentStatus.OFFLINE


def test_the_registry_is_updated_once_per_fraction_of_the_interval_not_per_message(
    make_comm: Any, clock: FakeClock
) -> None:
    transport = CountingTransport()
    comm = _seed_pair(make_comm, transport=transport)
    for n in range(1000):  # a thousand messages in one instant: one beat at most
        comm.send_message("coordinator", "monitoring_agent", MessageType.NOTIFICATION, {"n": n})
    assert comm.process_pending("monitoring_agent") == 1000
    at_once = len(transport.beats)
    for n in range(120):  # one a second for two minutes: one beat per 7.5 s
        clock.advance(1)
        comm.send_message("coordinator", "monitoring_agent", MessageType.NOTIFICATION, {"n": n})
        comm.process_next("monitoring_agent")

    assert at_once <= 1
    every = 30 * BEAT_FRACTION
    assert 120 / every - 1 <= len(transport.beats) - at_once <= 120 / every + 1
    assert set(transport.beats) == {"monitoring_agent"}


def test_an_offline_agent_that_processes_again_comes_back_online(
    make_comm: Any, clock: FakeClock
) -> None:
    """Even polling an empty queue says the agent is alive; the change says why."""
    comm = _seed_pair(make_comm)
    clock.advance(1000)
    comm.check_heartbeats()
    assert comm.get_agent("monitoring_agent").status is AgentStatus.OFFLINE

    assert comm.process_next("monitoring_agent") is None

    assert comm.get_agent("monitoring_agent").status is AgentStatus.ONLINE
    assert comm.get_agent("coordinator").status is AgentStatus.OFFLINE  # its own silence
    change = comm.registry.status_history.select()[-1]
    assert (change.agent_id, change.status, change.reason) == (
        "monitoring_agent",
        AgentStatus.ONLINE,
        "heartbeat",
    )


def test_a_status_set_by_hand_is_kept_by_processing(make_comm: Any, clock: FakeClock) -> None:
    comm = _seed_pair(make_comm)
    comm.update_agent_status("monitoring_agent", AgentStatus.BUSY)
    clock.advance(60)

    comm.process_pending("monitoring_agent")

    assert comm.get_agent("monitoring_agent").status is AgentStatus.BUSY
    clock.advance(60)
    assert comm.check_heartbeats() == ["coordinator"]


def test_a_failing_heartbeat_never_breaks_processing(
    make_comm: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    comm = _seed_pair(make_comm, transport=CountingTransport(fail=True))
    handled: list[Any] = []
    comm.register_handler("monitoring_agent", handled.append)
    caplog.set_level(logging.WARNING, "otel_agents.messaging")
    for n in range(3):
        clock.advance(30)
        comm.send_message("coordinator", "monitoring_agent", MessageType.NOTIFICATION, {"n": n})
        assert comm.process_next("monitoring_agent") is not None

    assert len(handled) == 3
    warnings = [r for r in caplog.records if "heartbeat from processing" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not per message


def test_an_agent_serving_its_queue_stays_online_while_idle(
    make_comm: Any, clock: FakeClock
) -> None:
    """``serve`` refreshes the heartbeat on its loop while it waits for messages."""
    comm: AgentCommunicationProtocol = make_comm(
        {"heartbeat_monitor": False, "heartbeat_interval": 0.04}
    )
    comm.register_agent("worker", "Worker", ["work"], "http://w:1")

    async def scenario() -> None:
        stop = asyncio.Event()
        served = asyncio.ensure_future(comm.serve("worker", stop))
        try:
            for _ in range(3):  # each jump is far past the limit; serving beats again
                clock.advance(1000)
                now = clock.monotonic()
                for _ in range(int(DEADLINE / 0.01)):
                    if comm.get_agent("worker").last_heartbeat == now:
                        break
                    await asyncio.sleep(0.01)
                assert comm.get_agent("worker").last_heartbeat == now
                assert comm.check_heartbeats() == []
        finally:
            stop.set()
            await asyncio.wait_for(served, DEADLINE)

    asyncio.run(scenario())
    clock.advance(1000)  # serving ended: nobody beats any more
    assert comm.check_heartbeats() == ["worker"]


def test_an_agent_set_offline_on_purpose_stays_offline_while_it_processes(
    make_comm: Any, clock: FakeClock
) -> None:
    """Its owner took it out: processing refreshes the heartbeat, never the status."""
    comm = _seed_pair(make_comm)
    comm.update_agent_status("monitoring_agent", AgentStatus.OFFLINE)
    comm.send_message("coordinator", "monitoring_agent", MessageType.NOTIFICATION, {"n": 1})
    clock.advance(60)

    assert comm.process_next("monitoring_agent") is not None
    assert comm.process_next("monitoring_agent") is None

    info = comm.get_agent("monitoring_agent")
    assert info.status is AgentStatus.OFFLINE
    assert info.last_heartbeat == clock.monotonic()  # still counted alive
    assert [c.reason for c in comm.registry.status_history.select()][-1] == "set"


def test_serve_keeps_an_agent_set_offline_on_purpose_offline(
    make_comm: Any, clock: FakeClock
) -> None:
    """``serve`` beats every quarter interval: those beats leave a manual OFFLINE alone,
    and still bring back the agent the monitor marks offline meanwhile."""
    comm: AgentCommunicationProtocol = make_comm(
        {"heartbeat_monitor": False, "heartbeat_interval": 0.04}
    )
    comm.register_agent("worker", "Worker", ["work"], "http://w:1")

    async def beaten(now: float) -> None:
        for _ in range(int(DEADLINE / 0.01)):
            if comm.get_agent("worker").last_heartbeat == now:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("serve never refreshed the heartbeat")

    async def scenario() -> None:
        stop = asyncio.Event()
        served = asyncio.ensure_future(comm.serve("worker", stop))
        try:
            comm.update_agent_status("worker", AgentStatus.OFFLINE)
            for _ in range(3):  # several beats, each past the quarter interval
                clock.advance(1)
                await beaten(clock.monotonic())
                assert comm.get_agent("worker").status is AgentStatus.OFFLINE
            comm.update_agent_status("worker", AgentStatus.ONLINE)
            clock.advance(1000)
            assert comm.check_heartbeats() == ["worker"]  # missed: the monitor says so
            for _ in range(int(DEADLINE / 0.01)):
                if comm.get_agent("worker").status is AgentStatus.ONLINE:
                    break
                await asyncio.sleep(0.01)
            assert comm.get_agent("worker").status is AgentStatus.ONLINE
        finally:
            stop.set()
            await asyncio.wait_for(served, DEADLINE)

    asyncio.run(scenario())
    reasons = [c.reason for c in comm.registry.status_history.select()]
    assert reasons[-4:] == ["set", "set", "heartbeat_missed", "heartbeat"]
