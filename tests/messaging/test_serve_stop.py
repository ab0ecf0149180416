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


def test_cancelling_serve_puts_the_message_being_handled_back_in_its_queue(
    comm: AgentCommunicationProtocol,
) -> None:
    """Cancelled from outside (not stopped), the handler is cancelled too and the message it
    was handling is queued again, not lost."""
    started = asyncio.Event()

    async def handler(message: AgentMessage) -> None:
        started.set()
        await asyncio.Event().wait()  # never returns by itself

    comm.register_handler("analyst", handler)

    async def main() -> str:
        message_id = comm.send_message("coordinator", "analyst", "request", {})
        server = asyncio.create_task(comm.serve("analyst"))
        await asyncio.wait_for(started.wait(), timeout=5)
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        await asyncio.sleep(0.01)  # the cancelled handler unwinds
        return message_id

    message_id = asyncio.run(main())
    assert comm.get_queue_size("analyst") == 1
    again = comm.process_next("analyst")
    assert again is not None
    assert again.message_id == message_id


def test_serve_processes_a_run_of_queued_messages_in_priority_order(
    comm: AgentCommunicationProtocol,
) -> None:
    seen: list[str] = []
    comm.register_handler("analyst", lambda message: seen.append(message.payload["n"]))

    async def main() -> None:
        stop = asyncio.Event()
        for n, priority in (("a", "low"), ("b", "urgent"), ("c", "normal")):
            comm.send_message("coordinator", "analyst", "request", {"n": n}, priority)
        server = asyncio.create_task(comm.serve("analyst", stop))
        for _ in range(500):  # bounded: at most 5 s
            if len(seen) == 3:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(server, timeout=5)

    asyncio.run(main())
    assert seen == ["b", "c", "a"]
