"""Faults a review found in the NATS transport, on a real nats-server: a dead-letter
publish that fails, deliveries left in the pulled batch at close, a broker without
JetStream, refused credentials, a short-lived demo bucket, a deleted registry entry."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from otel_agents import semconv as sc
from otel_agents.messaging import (
    AgentCommunicationProtocol,
    AgentMessage,
    DeliveryError,
    MessagePriority,
    MessageStatus,
    MessageType,
    NatsTransport,
)
from otel_agents.messaging._nats_io import NatsNames
from tests._cluster import stop_process
from tests._nats import NATS_SERVER, NatsServer
from tests._support import free_port
from tests._waits import eventually

pytestmark = pytest.mark.integration

Make = Callable[..., AgentCommunicationProtocol]
DEADLINE = 20.0
STREAM = "OTEL_AGENTS"


@contextmanager
def _bare_server(*options: str) -> Iterator[str]:
    """A nats-server started with ``options`` (no JetStream unless they ask for it) on
    free loopback ports, healthy; its URL. Stopped by its pid whatever happens."""
    for attempt in range(3):  # a free port may be taken before the server binds it
        port, http_port = free_port(), free_port()
        args = [str(NATS_SERVER), "-a", "127.0.0.1", "-p", str(port)]
        args += ["--http_port", str(http_port), *options]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + DEADLINE
            while process.poll() is None and time.monotonic() < deadline:
                try:
                    health = f"http://127.0.0.1:{http_port}/healthz"
                    with urllib.request.urlopen(health, timeout=1) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    time.sleep(0.02)
            else:
                if attempt == 2 or process.poll() is None:
                    raise AssertionError("nats-server did not become healthy")
                continue
            yield f"nats://127.0.0.1:{port}"
            return
        finally:
            stop_process(process)


def _nats_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "otel-agents-nats" and t.is_alive()]


def _take_and_drop_dead_letters(url: str, agent_id: str) -> int:
    """Take one delivery of ``agent_id``'s normal lane and never settle it (a recipient that
    died), then delete the dead-letter stream (an operator's purge); the delivery count."""
    import nats

    names = NatsNames(STREAM)

    async def main() -> int:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            consumer = names.consumer(agent_id, MessagePriority.NORMAL)
            sub = await js.pull_subscribe_bind(consumer, STREAM)
            (msg,) = await sub.fetch(1, timeout=10)
            await js.delete_stream(names.dead_letters)
            return msg.metadata.num_delivered
        finally:
            await nc.close()

    return asyncio.run(main())


def test_a_dead_letter_publish_that_fails_does_not_end_serve(
    make_nats_comm: Make, nats: NatsServer
) -> None:
    """A message past its attempts whose dead-letter publish fails is given back; serve()
    goes on and processes the messages after it."""
    config = {"ack_timeout": 1.0, "max_delivery_attempts": 1, "heartbeat_monitor": False}
    comm = make_nats_comm(config)
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    handled: list[Any] = []
    comm.register_handler("worker", lambda message: handled.append(message.payload["n"]))
    doomed = comm.send_message("boss", "worker", MessageType.REQUEST, {"n": 0})
    assert _take_and_drop_dead_letters(nats.url, "worker") == 1
    transport: Any = comm.transport

    async def serve() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(comm.serve("worker", stop))
        deadline = time.monotonic() + DEADLINE
        # Redelivered after the 1 s ack wait: past its one attempt, dead-lettered on
        # receipt, and the dead-letter stream is gone.
        while transport.receiver.bury_failures == 0 and not task.done():
            assert time.monotonic() < deadline, "the doomed message was not redelivered"
            await asyncio.sleep(0.05)
        later = [
            await comm.send_message_async("boss", "worker", MessageType.REQUEST, {"n": n})
            for n in (1, 2)
        ]
        while len(handled) < 2 and not task.done():
            assert time.monotonic() < deadline, "the later messages were not processed"
            await asyncio.sleep(0.05)
        assert not task.done(), f"serve() ended: {task.exception()!r}"
        stop.set()
        await task
        assert all(comm.get_message_status(m).status is MessageStatus.PROCESSED for m in later)

    asyncio.run(serve())
    assert handled == [1, 2]
    assert comm.get_message_status(doomed).status is not MessageStatus.DEAD_LETTERED


def test_close_gives_back_the_rest_of_a_pulled_batch_at_once(make_nats_comm: Make) -> None:
    """Closing naks what was pulled in a batch and not taken: a successor gets it long
    before the 60 s ack wait, with one delivery counted for the stop, not its attempts."""
    config = {"ack_timeout": 60.0, "max_delivery_attempts": 2, "heartbeat_monitor": False}
    sender = make_nats_comm(config)
    sender.register_agent("boss", "Boss", [], "http://localhost:8000")
    first = make_nats_comm(config)
    first.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    eventually(lambda: sender.registry.lookup("worker"), "the sender seeing the worker")
    sent = [sender.send_message("boss", "worker", MessageType.REQUEST, {"n": n}) for n in range(10)]
    taken = first.process_next("worker")  # pulls a batch of all ten, takes the first
    assert taken is not None
    assert taken.message_id == sent[0]
    first.stop()

    successor = make_nats_comm(config)
    successor.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    counts: dict[str, Any] = {}

    def record(message: AgentMessage) -> None:
        attributes = successor.transport.delivery_attributes(message)
        counts[message.message_id] = attributes[sc.AGENT_MESSAGE_DELIVERY_COUNT]

    successor.register_handler("worker", record)

    def nine() -> int:
        successor.process_next("worker")
        return len(counts) >= 9

    eventually(nine, "the successor getting the nine given back", timeout=DEADLINE)
    assert sorted(counts) == sorted(sent[1:])
    assert set(counts.values()) == {2}  # the first delivery, then this one
    for message_id in sent[1:]:
        assert successor.get_message_status(message_id).status is MessageStatus.PROCESSED


def test_a_broker_without_jetstream_is_a_clear_error_and_leaves_no_thread() -> None:
    """nats-server without -js: DeliveryError saying to start it with -js, not nats-py's
    ServiceUnavailableError; the loop thread is stopped."""
    before = _nats_threads()
    with _bare_server() as url, pytest.raises(DeliveryError) as raised:
        AgentCommunicationProtocol(
            {"transport": url, "broker_timeout": 5.0, "heartbeat_monitor": False}
        )
    assert raised.value.reason == "jetstream_unavailable"
    assert "has no JetStream: start nats-server with -js" in str(raised.value)
    assert raised.value.__cause__ is None
    eventually(lambda: _nats_threads() == before, "the NATS loop thread stopping", DEADLINE)


def test_refused_credentials_fail_at_once_naming_them_not_a_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server with --auth and a wrong token: DeliveryError naming the credentials (never
    their value), raised as soon as the server refuses them, not after broker_timeout."""
    monkeypatch.setenv("OTEL_AGENTS_NATS_TOKEN", "WRONG-token-value")
    before = _nats_threads()
    result: dict[str, BaseException] = {}

    def construct(url: str) -> None:
        try:
            # broker_timeout is far longer than the test waits: only refusing the
            # credentials at once can end the constructor in time.
            AgentCommunicationProtocol(
                {"transport": url, "broker_timeout": 300.0, "heartbeat_monitor": False}
            )
        except BaseException as exc:  # handed to the test's thread
            result["error"] = exc

    with _bare_server("--auth", "the-good-token-123") as url:
        worker = threading.Thread(target=construct, args=(url,), daemon=True)
        worker.start()
        worker.join(DEADLINE)  # a hang guard: the refusal comes at the first attempt
        assert not worker.is_alive(), "the constructor waited on refused credentials"
    error = result["error"]
    assert isinstance(error, DeliveryError), repr(error)
    assert error.reason == "unauthorized"
    assert "refused the credentials (OTEL_AGENTS_NATS_TOKEN" in str(error)
    assert "WRONG" not in str(error)
    assert "good-token" not in str(error)
    eventually(lambda: _nats_threads() == before, "the NATS loop thread stopping", DEADLINE)


def _agents_bucket_ttl(url: str, stream: str) -> float:
    import nats

    async def main() -> float:
        nc = await nats.connect(url)
        try:
            status = await (
                await nc.jetstream().key_value(NatsNames(stream).agents_bucket)
            ).status()
            return float(status.ttl or 0.0)
        finally:
            await nc.close()

    return asyncio.run(main())


def test_the_nats_demo_never_shortens_the_default_agents_bucket_ttl(
    nats: NatsServer, make_nats_comm: Make
) -> None:
    """``demo --nats`` (1 s heartbeats) runs on its own stream: an agent registered later on
    the default stream keeps its 90 s entry and stays registered past the demo's 3 s."""
    from otel_agents._demo import DEMO_STREAM, Swarm

    with Swarm(configure_telemetry=False, refresh=0.5, transport=nats.url) as swarm:
        assert isinstance(swarm.comm.transport, NatsTransport)
        assert swarm.comm.transport.names.stream == DEMO_STREAM
    assert _agents_bucket_ttl(nats.url, DEMO_STREAM) == 3.0
    agent = make_nats_comm({"heartbeat_monitor": False})
    agent.register_agent("analyst", "Analyst", ["analysis"], "nats-agent://analyst")
    assert _agents_bucket_ttl(nats.url, STREAM) == 90.0  # 30 s x 3 misses, the defaults
    time.sleep(4.0)  # past the demo's TTL, with no heartbeat meanwhile
    observer = make_nats_comm({"heartbeat_monitor": False})
    eventually(lambda: observer.registry.lookup("analyst"), "the observer seeing the analyst")


def test_an_agent_whose_entry_another_process_deleted_is_back_at_its_next_heartbeat(
    make_nats_comm: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process unregisters a running agent: its own process keeps it, and its next
    heartbeat puts the entry back, so others find it and send to it again."""
    caplog.set_level(logging.WARNING, "otel_agents.messaging")
    config = {"heartbeat_monitor": False}
    running = make_nats_comm(config)
    running.register_agent("worker", "Worker", ["work"], "nats-agent://worker")
    other = make_nats_comm(config)
    eventually(lambda: other.registry.lookup("worker"), "the other process seeing the worker")
    other.unregister_agent("worker")
    eventually(lambda: other.registry.lookup("worker") is None, "the entry being deleted")
    # The delete reaches the running process's watch too; it keeps its own agent.
    eventually(
        lambda: any("deleted by another process" in r.getMessage() for r in caplog.records),
        "the running process seeing the delete",
    )
    assert running.registry.lookup("worker") is not None
    running.heartbeat("worker")  # did raise "not registered" for ever
    eventually(lambda: other.registry.lookup("worker"), "the worker registered again")
    sent = other.send_message("boss", "worker", MessageType.REQUEST, {"n": 1})
    received = eventually(lambda: running.process_next("worker"), "the worker's message")
    assert received.message_id == sent
