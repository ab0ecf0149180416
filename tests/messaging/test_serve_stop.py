"""Stopping ``serve()`` never cancels a message's handlers half-way."""

from __future__ import annotations

import asyncio

from opentelemetry.trace import StatusCode

from otel_agents.messaging import AgentCommunicationProtocol, AgentMessage, MessageStatus
from otel_agents.testing import TelemetryCapture


def test_stopping_serve_lets_an_in_flight_handler_finish_and_records_it_processed(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def handler(message: AgentMessage) -> None:
        started.set()
        await release.wait()
        finished.append(message.message_id)

    comm.register_handler("analyst", handler)

    async def main() -> str:
        stop = asyncio.Event()
        message_id = comm.send_message("coordinator", "analyst", "request", {})
        queued = comm.send_message("coordinator", "analyst", "request", {}, "low")
        server = asyncio.create_task(comm.serve("analyst", stop))
        await asyncio.wait_for(started.wait(), timeout=5)
        stop.set()  # while the handler is running
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.wait_for(server, timeout=5)
        assert comm.get_message_status(queued).status is MessageStatus.QUEUED
        return message_id

    message_id = asyncio.run(main())
    assert finished == [message_id]
    assert comm.get_message_status(message_id).status is MessageStatus.PROCESSED
    (span,) = telemetry.spans("process analyst")
    assert span.status.status_code is not StatusCode.ERROR
    assert not [e for e in span.events if e.name == "exception"]
