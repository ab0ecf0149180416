"""The asyncio paths (serve, RemoteAgent.run) and the CLI subcommands."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    AgentMessage,
    MessageType,
    SecurityConfig,
)
from otel_agents.messaging._cli import register, run_agent, run_hub
from otel_agents.testing import TelemetryCapture
from tests.messaging.helpers import Net

POLL_TIMEOUT = 10.0  # a hang guard, not a speed target


async def until(condition: Callable[[], bool], what: str) -> None:
    """Yield to the event loop until ``condition()`` holds; fail after POLL_TIMEOUT seconds."""
    deadline = time.monotonic() + POLL_TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {POLL_TIMEOUT} s waiting for {what}"
        await asyncio.sleep(0.001)


def test_serve_runs_async_handlers_in_priority_order_as_messages_arrive(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    seen: list[str] = []

    async def handler(message: AgentMessage) -> None:
        await asyncio.sleep(0)
        seen.append(message.priority.label)

    comm.register_handler("analyst", handler)

    async def main() -> None:
        stop = asyncio.Event()
        comm.send_message("coordinator", "analyst", "request", {}, "low")
        comm.send_message("coordinator", "analyst", "request", {}, "urgent")
        server = asyncio.create_task(comm.serve("analyst", stop))
        await until(lambda: len(seen) >= 2, "the first two messages")
        comm.send_message("coordinator", "analyst", "request", {}, "normal")
        await until(lambda: len(seen) >= 3, "the third message")
        stop.set()
        await asyncio.wait_for(server, timeout=5)

    asyncio.run(main())
    assert seen == ["urgent", "low", "normal"]
    assert len(telemetry.spans("process analyst")) == 3


def test_remote_agent_run_registers_and_stops_cleanly(
    telemetry: TelemetryCapture, security: SecurityConfig
) -> None:
    net = Net(telemetry, security)
    agent = net.agents["agent-a"]
    agent.config["heartbeat_interval"] = 0.01

    async def main() -> None:
        stop = asyncio.Event()
        runner = asyncio.create_task(agent.run(stop))
        await until(
            lambda: "agent-a" in [a.agent_id for a in net.hub.list_agents()],
            "agent-a to register with the hub",
        )
        stop.set()
        await asyncio.wait_for(runner, timeout=5)

    asyncio.run(main())
    assert net.hub.get_agent("agent-a").status.value == "online"


def test_cli_adds_hub_and_agent_subcommands() -> None:
    parser = argparse.ArgumentParser(prog="otel-agents")
    register(parser.add_subparsers(dest="command", required=True))
    hub = parser.parse_args(["hub", "--port", "9100"])
    assert (hub.handler, hub.port, hub.host) == (run_hub, 9100, "127.0.0.1")
    agent = parser.parse_args(
        ["agent", "--id", "planner", "--capabilities", "a, b", "--forward-to", "analyst"]
    )
    assert (agent.handler, agent.agent_id, agent.forward_to) == (run_agent, "planner", "analyst")
    assert agent.hub == "http://127.0.0.1:8100"


def test_message_type_values_are_stable_wire_names() -> None:
    assert MessageType.TASK_ASSIGNMENT.value == "task_assignment"


def _slow_handler_run(
    comm: AgentCommunicationProtocol, grace: float, finish: bool
) -> tuple[str, int]:
    """Serve ``analyst``, stop while its handler is in flight (letting the handler finish
    after the stop when ``finish``); return the message's status and the queue size."""
    started = asyncio.Event()
    release = asyncio.Event()

    async def handler(message: AgentMessage) -> None:
        started.set()
        await release.wait()

    comm.register_handler("analyst", handler)

    async def main() -> str:
        stop = asyncio.Event()
        message_id = comm.send_message("coordinator", "analyst", "request", {})
        server = asyncio.create_task(comm.serve("analyst", stop, grace=grace))
        await asyncio.wait_for(started.wait(), timeout=10)
        stop.set()
        for _ in range(20):  # let serve() see the stop while the handler still waits
            await asyncio.sleep(0)
        if finish:
            release.set()
        await asyncio.wait_for(server, timeout=10)
        return message_id

    message_id = asyncio.run(main())
    return comm.get_message_status(message_id).status.value, comm.get_queue_size("analyst")


def test_serve_stop_lets_the_in_flight_handler_finish(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    """A stop while a handler runs waits for it (within the grace): the message is processed."""
    assert _slow_handler_run(comm, grace=30.0, finish=True) == ("processed", 0)
    (span,) = telemetry.spans("process analyst")
    assert span.status.is_ok


def test_serve_stop_requeues_a_handler_that_outlives_the_grace(
    comm: AgentCommunicationProtocol,
) -> None:
    """A handler still running after the grace is cancelled and its message queued again."""
    assert _slow_handler_run(comm, grace=0.01, finish=False) == ("queued", 1)


def test_remote_agent_stop_lets_the_in_flight_handler_finish(
    telemetry: TelemetryCapture, security: SecurityConfig
) -> None:
    net = Net(telemetry, security)
    agent = net.agents["agent-a"]
    started = asyncio.Event()
    release = asyncio.Event()

    @agent.on()
    async def handler(message: AgentMessage) -> None:
        started.set()
        await release.wait()

    async def main() -> str:
        await net.register("agent-b")
        stop = asyncio.Event()
        runner = asyncio.create_task(agent.run(stop))
        message_id = await net.agents["agent-b"].send_message("agent-a", "request", {})
        await asyncio.wait_for(started.wait(), timeout=10)
        stop.set()
        for _ in range(20):
            await asyncio.sleep(0)
        release.set()
        await asyncio.wait_for(runner, timeout=10)
        return message_id

    message_id = asyncio.run(main())
    record = agent.messages.get(message_id)
    assert record is not None
    assert record.status.value == "processed"
