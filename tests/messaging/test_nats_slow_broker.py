"""A broker that answers a pull later than we wait for it (paused, or starved on a loaded
machine): the late answer must not be taken as the answer to the next pull.

The broker is a real nats-server, paused with SIGSTOP and resumed with SIGCONT (by its pid,
resumed in ``finally``); the wait for a pull's answer is shortened so the test is quick.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from otel_agents.messaging import AgentCommunicationProtocol, MessageType, _nats_lanes
from tests._nats import NatsServer

pytestmark = pytest.mark.integration

Make = Callable[..., AgentCommunicationProtocol]


def test_a_pull_answered_too_late_does_not_hide_the_next_message(
    make_nats_comm: Make, nats: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: each lane's late "no messages" (404) stayed in its inbox and ended the next
    pull at once, so ``process_next`` said None while a message waited on the broker."""
    monkeypatch.setattr(_nats_lanes, "_MARGIN", 0.2)
    comm = make_nats_comm()
    comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
    assert comm.process_next("worker") is None  # the lanes exist and are answered
    assert nats.process is not None
    os.kill(nats.process.pid, signal.SIGSTOP)
    try:
        assert comm.process_next("worker") is None  # every pull is given up, unanswered
    finally:
        os.kill(nats.process.pid, signal.SIGCONT)
    # Acknowledged by the broker, so it is running again and has the message.
    message_id = comm.send_message("boss", "worker", MessageType.REQUEST, {"x": 1})
    received = comm.process_next("worker")
    assert received is not None
    assert received.message_id == message_id
