"""An agent in its own process for the delivery tests: ``python _agent_process.py ID PORT
HUB_URL MODE OUT``. It writes each message id its handler gets to OUT (one per line); in
``block`` mode the handler then never returns (the test kills the process), in ``record``
mode it returns at once. Secrets come from the environment, as for ``otel-agents agent``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvicorn

from otel_agents.messaging import AgentMessage, SecurityConfig
from otel_agents.messaging._inbox import create_inbox_app
from otel_agents.messaging._remote import RemoteAgent


def main() -> None:
    agent_id, port, hub_url, mode, out = sys.argv[1:6]
    agent = RemoteAgent(
        agent_id,
        agent_id,
        ["work"],
        f"http://127.0.0.1:{port}",
        hub_url,
        security=SecurityConfig.from_env(),
        config={"heartbeat_interval": 0.5},
    )

    @agent.on()
    async def handle(message: AgentMessage) -> None:
        with Path(out).open("a") as file:
            file.write(message.message_id + "\n")
        if mode == "block":
            await asyncio.Event().wait()

    config = uvicorn.Config(
        create_inbox_app(agent), host="127.0.0.1", port=int(port), log_level="warning"
    )
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
