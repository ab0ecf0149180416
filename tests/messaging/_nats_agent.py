"""An agent process on NATS for the fault tests: ``python tests/messaging/_nats_agent.py URL
AGENT_ID LOG``.

Its handler appends ``start <id>`` then ``done <id>`` to LOG (flushed and synced, so a
SIGKILL loses nothing written). A payload ``{"hang_once": true}`` hangs the first time it
is handled (a marker file next to LOG remembers it), so the test can kill the process in
the middle of a handler. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from otel_agents.messaging import AgentCommunicationProtocol, AgentMessage


def _append(log: Path, line: str) -> None:
    with log.open("a") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


async def main(url: str, agent_id: str, log: Path) -> None:
    comm = AgentCommunicationProtocol(
        {
            "transport": url,
            "ack_timeout": 0.5,  # ACK_TIMEOUT in test_nats_faults.py
            "retry_backoff": 0.2,
            "max_delivery_attempts": 5,
            "heartbeat_monitor": False,
            "broker_timeout": 20.0,
        }
    )

    def handle(message: AgentMessage) -> None:
        _append(log, f"start {message.message_id}")
        marker = log.with_name(f"hung-{message.message_id}")
        hang = isinstance(message.payload, dict) and message.payload.get("hang_once")
        if hang and not marker.exists():
            marker.touch()
            time.sleep(120)  # killed here
        _append(log, f"done {message.message_id}")

    comm.register_agent(agent_id, agent_id, ["work"], f"nats-agent://{agent_id}")
    comm.register_handler(agent_id, handle)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    _append(log, f"ready {os.getpid()}")
    try:
        await comm.serve(agent_id, stop)
    finally:
        comm.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
