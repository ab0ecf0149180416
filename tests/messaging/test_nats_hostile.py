"""What any client of the broker can write is network input: the agents bucket, the status
bucket and replayed envelopes cannot stop a process, skip a message or run one twice."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import nats as nats_client
import pytest

from otel_agents import semconv as sc
from otel_agents.messaging import (
    AgentCommunicationProtocol,
    MessagePriority,
    MessageRecord,
    MessageStatus,
    MessageType,
    NatsTransport,
    SecurityConfig,
)
from otel_agents.messaging._nats_registry import BAD_BURST, Mirror
from otel_agents.testing import TelemetryCapture
from tests._nats import NatsServer, publish_raw, put_kv
from tests.messaging.conftest import FakeClock
from tests.messaging.test_nats_transport import eventually

pytestmark = pytest.mark.integration

Make = Callable[..., AgentCommunicationProtocol]
KEY = "test-signing-key-0123456789"


def test_a_hostile_agents_bucket_entry_stops_no_watch_and_no_new_process(
    make_nats_comm: Make, nats: NatsServer
) -> None:
    first = make_nats_comm()
    first.register_agent("alpha", "Alpha", ["x"], "http://localhost:8001")
    put_kv(nats.url, "OTEL_AGENTS_agents", "zzz", b"[" * 4000)  # nested too deep for json
    forged = {"agent_id": "alpha", "name": "Mallory", "capabilities": [], "endpoint": "x"}
    put_kv(nats.url, "OTEL_AGENTS_agents", "mallory", json.dumps(forged).encode())
    first.register_agent("beta", "Beta", ["x"], "http://localhost:8002")  # after them
    second = make_nats_comm()  # attaches: its watch reads past the bad entries
    eventually(lambda: second.registry.lookup("beta"), "beta, registered after the entries")
    assert second.get_agent("alpha").name == "Alpha"  # not rewritten under another key


def test_a_forged_outcome_neither_skips_the_message_nor_breaks_the_status_call(
    make_nats_comm: Make, nats: NatsServer
) -> None:
    comm = make_nats_comm()
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    ran: list[Any] = []
    comm.register_handler("worker", lambda message: ran.append(message.payload))
    deep = comm.send_message("boss", "worker", MessageType.REQUEST, {"n": 1})
    forged = comm.send_message("boss", "worker", MessageType.REQUEST, {"n": 2})
    put_kv(nats.url, "OTEL_AGENTS_status", deep, b"[" * 1999)
    put_kv(nats.url, "OTEL_AGENTS_status", forged, b'{"status": "processed", "updated_at": 1}')
    assert comm.get_message_status(deep).status is MessageStatus.QUEUED
    assert comm.get_message_status(forged).status is MessageStatus.PROCESSED  # shown, only
    assert comm.process_pending("worker") == 2
    assert ran == [{"n": 1}, {"n": 2}]


def test_a_copy_that_waited_past_the_window_is_still_a_replay(
    make_nats_comm: Make, nats: NatsServer, telemetry: TelemetryCapture
) -> None:
    """Freshness is judged at the broker's store time, so the signature is remembered for as
    long as a copy stored within the window may wait on the broker."""
    # The security clock stands still while both copies are signed and stored (within the
    # window however slow the machine: a 1 s window could run out before the copy was
    # stored, and the copy was then refused as stale, not as a replay), then moves past it.
    clock = FakeClock(start=time.time())
    security = SecurityConfig(signing_key=KEY, replay_window=30.0, clock=clock)
    comm = make_nats_comm(
        {"message_timeout": 60.0, "max_message_history": 1},
        transport=NatsTransport(nats.url, security=security),
    )
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    ran: list[str] = []
    comm.register_handler("worker", lambda message: ran.append(message.message_id))
    message, _ = comm.envelope("boss", "worker", MessageType.REQUEST, {"x": 1}, "normal")
    body = message.to_json().encode()
    headers = security.sign(message.message_id, body)
    subject = comm.transport.names.subject("worker", MessagePriority.NORMAL)  # type: ignore[attr-defined]
    publish_raw(nats.url, subject, body, {**headers, "Nats-Msg-Id": "first"})
    assert comm.process_pending("worker") == 1
    filler = comm.send_message("boss", "worker", MessageType.REQUEST, {"x": 2})
    assert comm.process_pending("worker") == 1  # the history of one forgot the first
    publish_raw(nats.url, subject, body, {**headers, "Nats-Msg-Id": "again"})  # within the window
    clock.advance(60.0)  # waits on the broker past the window
    assert comm.process_pending("worker") == 0
    assert ran == [message.message_id, filler]
    (point,) = telemetry.points(sc.AGENT_MESSAGE_REJECTED.name)
    assert (point.value, point.attributes[sc.ERROR_TYPE]) == (1, "replayed")


def _failed_as_the_sender_sees_it(make_nats_comm: Make, error: Exception) -> MessageRecord:
    """A handler in one process raises ``error``; the record the sending process reads from
    the status bucket once the outcome is published."""
    worker_side, sender_side = make_nats_comm(), make_nats_comm()
    worker_side.register_agent("worker", "Worker", ["work"], "http://localhost:8001")

    def fail(_message: Any) -> None:
        raise error

    worker_side.register_handler("worker", fail)
    eventually(lambda: sender_side.registry.lookup("worker"), "the registration")
    message_id = sender_side.send_message("boss", "worker", MessageType.REQUEST, {})
    worker_side.process_next("worker")
    record: MessageRecord = eventually(
        lambda: (
            (r := sender_side.get_message_status(message_id)).status is not MessageStatus.QUEUED
            and r
        ),
        "the outcome",
    )
    assert record.status is MessageStatus.FAILED
    return record


def test_a_non_ascii_error_still_reaches_the_senders_process(make_nats_comm: Make) -> None:
    record = _failed_as_the_sender_sees_it(make_nats_comm, ValueError("ошибка 😱 " * 60))
    assert record.error is not None
    assert record.error.startswith("handler raised ValueError: ошибка 😱")


def test_a_secret_in_a_handler_error_is_redacted_in_the_published_status(
    make_nats_comm: Make,
) -> None:
    """The failure text goes to the status bucket, where any client of the broker reads it."""
    error = ConnectionError("db login failed: password=hunter2")
    record = _failed_as_the_sender_sees_it(make_nats_comm, error)
    assert record.error == "handler raised ConnectionError: db login failed: password=[REDACTED]"


def test_a_published_conversation_id_the_sender_could_not_use_is_rejected(
    make_nats_comm: Make, nats: NatsServer
) -> None:
    """A client of the broker writes what it likes: a 200,000-character or empty
    conversation id is refused like any invalid envelope (it would become a rollup key and
    a gauge label); the next message is processed."""
    comm = make_nats_comm()
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    ran: list[str | None] = []
    comm.register_handler("worker", lambda message: ran.append(message.conversation_id))
    subject = comm.transport.names.subject("worker", MessagePriority.NORMAL)  # type: ignore[attr-defined]
    for conversation_id in ("c" * 200_000, "", "conv-ok"):
        message, _ = comm.envelope("boss", "worker", MessageType.REQUEST, {}, "normal")
        message.conversation_id = conversation_id
        body = message.to_json().encode()
        publish_raw(nats.url, subject, body, {"Nats-Msg-Id": message.message_id})
    deadline = time.monotonic() + 30
    while not ran and time.monotonic() < deadline:
        comm.process_pending("worker")
    assert ran == ["conv-ok"]


def test_thousands_of_bad_bucket_keys_leave_bounded_memory_and_few_log_lines(
    make_nats_comm: Make, nats: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Any client may write any number of distinct bad keys: none is remembered, and the
    warnings are rate-limited (the skipped entries are counted)."""
    caplog.set_level(logging.WARNING, "otel_agents.messaging")
    comm = make_nats_comm()
    watch = comm.transport._watch  # type: ignore[attr-defined]
    assert isinstance(watch, Mirror)
    junk = 5000

    async def spam() -> None:
        nc = await nats_client.connect(nats.url)
        try:
            for n in range(junk):
                await nc.publish(f"$KV.OTEL_AGENTS_agents.k{n:06d}x{'y' * 200}", b"not json")
            await nc.flush()
        finally:
            await nc.close()

    asyncio.run(spam())
    eventually(lambda: watch.ignored == junk, f"the watch skipping {junk} bad entries")
    lines = [r for r in caplog.records if "ignoring the agents bucket entry" in r.getMessage()]
    assert 1 <= len(lines) <= BAD_BURST
    held = [v for v in vars(watch).values() if isinstance(v, set | dict | list)]
    assert all(len(container) < 100 for container in held)  # no key kept
