"""A registration the broker refuses: the local registry is left as it was (the agent was
never said to be online), and ``otel-agents agent --nats`` says so in one line, exit 1."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from otel_agents.messaging import AgentCommunicationProtocol, DeliveryError, InvalidMessageError
from otel_agents.messaging._nats_registry import MAX_ENTRY
from tests._nats import NatsServer
from tests.messaging.test_nats_faults import DEADLINE, _env
from tests.messaging.test_nats_transport import eventually

pytestmark = pytest.mark.integration

Make = Callable[..., AgentCommunicationProtocol]
STREAM = "ODD"


def unfiltered_consumer(url: str) -> None:
    """The deployment's work-queue stream, with an operator's consumer that takes every
    subject: JetStream then refuses the agents' filtered consumers (400, "filtered consumer
    not unique on workqueue stream")."""
    import nats
    from nats.js import api

    async def main() -> None:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            await js.add_stream(
                api.StreamConfig(
                    name=STREAM, subjects=[f"{STREAM}.>"], retention=api.RetentionPolicy.WORK_QUEUE
                )
            )
            await js.add_consumer(
                STREAM,
                api.ConsumerConfig(durable_name="ops-debug", ack_policy=api.AckPolicy.EXPLICIT),
            )
        finally:
            await nc.close()

    asyncio.run(main())


def test_a_refused_registration_leaves_the_registry_as_it_was(
    make_nats_comm: Make, nats: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    unfiltered_consumer(nats.url)
    comm = make_nats_comm({"nats_stream": STREAM, "broker_timeout": 3.0})
    changes: list[Any] = []
    comm.registry.add_status_listener(changes.append)
    with (
        caplog.at_level(logging.INFO, logger="otel_agents.messaging"),
        pytest.raises(DeliveryError) as caught,
    ):
        comm.register_agent("worker", "Worker", ["work"], "nats-agent://worker")
    assert caught.value.reason == "broker_refused"
    assert comm.registry.lookup("worker") is None
    assert comm.list_agents() == []
    assert changes == []  # never online
    assert "worker is now online" not in caplog.text


def test_the_agent_command_says_a_refused_registration_in_one_line(nats: NatsServer) -> None:
    unfiltered_consumer(nats.url)
    command = [sys.executable, "-m", "otel_agents.messaging._cli", "agent", "--id", "worker"]
    command += ["--nats", nats.url, "--nats-stream", STREAM, "--broker-timeout", "3"]
    completed = subprocess.run(
        command, env=_env(), capture_output=True, text=True, timeout=DEADLINE, check=False
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    refused = [line for line in completed.stderr.splitlines() if "refused to register" in line]
    assert len(refused) == 1
    assert refused[0].startswith("otel-agents agent: ")
    assert "worker is now online" not in completed.stderr


def test_an_upper_case_scheme_reaches_the_broker(make_nats_comm: Make, nats: NatsServer) -> None:
    comm = make_nats_comm({"transport": nats.url.replace("nats://", "NATS://")})
    comm.register_agent("worker", "Worker", ["work"], "nats-agent://worker")
    assert [agent.agent_id for agent in comm.list_agents()] == ["worker"]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--nats", "nats://u:s3cret@127.0.0.1:14322x"], "--nats"),
        (["--nats", "nats://127.0.0.1:4222", "--message-timeout", "1e308"], "message_timeout"),
    ],
)
def test_the_agent_command_names_a_bad_option_at_once(options: list[str], says: str) -> None:
    command = [sys.executable, "-m", "otel_agents._cli", "agent", "--id", "w"]  # otel-agents
    completed = subprocess.run(
        [*command, *options, "--broker-timeout", "20"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert completed.returncode == 2, completed.stderr
    assert says in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "cannot connect" not in completed.stderr
    assert "s3cret" not in completed.stderr


def test_a_registration_that_times_out_is_a_delivery_error_and_changes_nothing(
    make_nats_comm: Make, nats: NatsServer
) -> None:
    """The broker gone after the first connection: retried until broker_timeout, then a
    DeliveryError (a MessagingError the agent command says in one line), not nats-py's own
    error; the agent is not registered locally."""
    comm = make_nats_comm({"broker_timeout": 2.0})
    nats.stop()
    with pytest.raises(DeliveryError) as caught:
        comm.register_agent("worker", "Worker", ["work"], "nats-agent://worker")
    assert caught.value.reason in ("broker_unreachable", "broker_timeout")
    assert comm.registry.lookup("worker") is None


def test_an_agent_whose_entry_is_over_the_bucket_limit_is_refused_and_found_nowhere(
    make_nats_comm: Make,
) -> None:
    """Every process skips a bucket entry over MAX_ENTRY: such an agent would be registered
    here and found nowhere else, so its registration fails (naming the sizes) instead."""
    owner = make_nats_comm({"max_agent_metadata_bytes": 200_000})
    other = make_nats_comm()
    metadata = {"notes": "n" * (MAX_ENTRY + 1000)}
    with pytest.raises(InvalidMessageError, match="capabilities") as caught:
        owner.register_agent("big", "Big", ["x"], "http://localhost:8001", metadata)
    shown = str(caught.value)
    assert f"over the {MAX_ENTRY}-byte limit" in shown
    assert f"({MAX_ENTRY + 1000 + 12} bytes)" in shown  # the metadata's size
    assert owner.registry.lookup("big") is None
    owner.register_agent("small", "Small", ["x"], "http://localhost:8002")
    eventually(lambda: other.registry.lookup("small"), "the small agent, in the other process")
    assert other.registry.lookup("big") is None
