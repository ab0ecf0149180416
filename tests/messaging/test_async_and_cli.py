"""The asyncio paths (serve, RemoteAgent.run) and the CLI subcommands."""

from __future__ import annotations

import argparse
import asyncio

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    AgentMessage,
    MessageType,
    SecurityConfig,
)
from otel_agents.messaging.cli import register, run_agent, run_hub
from otel_agents.testing import TelemetryCapture
from tests.messaging.helpers import Net


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
        while len(seen) < 2:
            await asyncio.sleep(0.001)
        comm.send_message("coordinator", "analyst", "request", {}, "normal")
        while len(seen) < 3:
            await asyncio.sleep(0.001)
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
        while "agent-a" not in [a.agent_id for a in net.hub.list_agents()]:
            await asyncio.sleep(0.001)
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
