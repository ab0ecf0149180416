"""A handler's exception is the host's bug, not the consumer's: whatever it is, the consumer
records it (redacted) and carries on with the next message."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    AgentInfo,
    AgentMessage,
    DeliveryError,
    MessageStatus,
)
from otel_agents.messaging._transport import InProcessTransport
from otel_agents.testing import TelemetryCapture


class Unprintable(Exception):
    """An exception whose ``__str__`` raises (a third-party bug seen in the wild)."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_an_exception_whose_str_raises_stays_inside_process_next(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture
) -> None:
    def handler(message: AgentMessage) -> None:
        raise Unprintable

    comm.register_handler("analyst", handler)
    message_id = comm.send_message("coordinator", "analyst", "request", {})
    processed = comm.process_next("analyst")  # must not raise
    assert processed is not None
    record = comm.get_message_status(message_id)
    assert record.status is MessageStatus.FAILED
    assert record.error_type == "Unprintable"
    assert record.error == "handler raised Unprintable: <message unavailable>"
    (span,) = telemetry.spans("process analyst")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {}).get("error.type") == "Unprintable"


def test_serve_keeps_serving_after_an_exception_whose_str_raises(
    comm: AgentCommunicationProtocol,
) -> None:
    seen: list[int] = []

    def handler(message: AgentMessage) -> None:
        seen.append(message.payload["n"])
        if message.payload["n"] == 1:
            raise Unprintable

    comm.register_handler("analyst", handler)
    ids = [comm.send_message("coordinator", "analyst", "request", {"n": n}) for n in (1, 2, 3)]

    async def main() -> None:
        stop = asyncio.Event()
        server = asyncio.create_task(comm.serve("analyst", stop))
        for _ in range(500):  # bounded: at most 5 s
            if len(seen) == 3 or server.done():
                break
            await asyncio.sleep(0.01)
        assert not server.done(), server.exception()  # still serving
        stop.set()
        await asyncio.wait_for(server, timeout=5)

    asyncio.run(main())
    assert seen == [1, 2, 3]
    statuses = [comm.get_message_status(i).status for i in ids]
    assert statuses == [MessageStatus.FAILED, MessageStatus.PROCESSED, MessageStatus.PROCESSED]


def test_a_secret_in_a_handler_error_is_redacted_in_the_history(
    comm: AgentCommunicationProtocol, telemetry: TelemetryCapture, tmp_path: Path
) -> None:
    def handler(message: AgentMessage) -> None:
        raise ConnectionError("db login failed: password=hunter2 user=bob")

    comm.register_handler("analyst", handler)
    message_id = comm.send_message("coordinator", "analyst", "request", {})
    comm.process_next("analyst")
    record = comm.get_message_status(message_id)
    assert (
        record.error
        == "handler raised ConnectionError: db login failed: password=[REDACTED] user=bob"
    )
    exported = comm.export_messages(tmp_path / "history.json").read_text()
    assert "password=[REDACTED]" in exported
    assert "hunter2" not in exported
    (span,) = telemetry.spans("process analyst")
    assert "hunter2" not in str(span.events[0].attributes)


class _LeakyTransport(InProcessTransport):
    """A transport whose failure quotes a credential (as client libraries' errors do)."""

    def deliver(self, message: AgentMessage, recipient: AgentInfo) -> None:
        raise OSError("connect to http://svc:pw-SECRET@10.0.0.9 failed; password=hunter2")


def test_a_transport_failure_is_stored_and_raised_with_its_credentials_redacted(
    make_comm: Any,
) -> None:
    comm: AgentCommunicationProtocol = make_comm(transport=_LeakyTransport())
    comm.register_agent("a", "A", [], "http://localhost:8000")
    comm.register_agent("b", "B", [], "http://localhost:8001")
    with pytest.raises(DeliveryError) as caught:
        comm.send_message("a", "b", "request", {})
    (record,) = comm.get_message_history()
    for text in (str(caught.value), record.error or ""):
        assert "pw-SECRET" not in text
        assert "hunter2" not in text
        assert "OSError" in text
