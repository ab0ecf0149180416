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
from otel_agents.messaging.cli import register, run_agent, run_hub
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
