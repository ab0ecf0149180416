"""A process decides the agents bucket entries of the agents it runs: an entry another
client puts under one of their keys (a forgery) neither rewrites the agent here nor sticks
in the bucket, where every other process reads it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from otel_agents.messaging import AgentCommunicationProtocol, AgentStatus
from tests._nats import NatsServer, get_kv, kv_revision, put_kv
from tests.messaging.test_nats_transport import eventually

pytestmark = pytest.mark.integration

Make = Callable[..., AgentCommunicationProtocol]
BUCKET = "OTEL_AGENTS_agents"
FORGED_WARNING = "another process put an entry for 'alpha'"


def _bucket_entry(nats: NatsServer) -> dict[str, Any] | None:
    value = get_kv(nats.url, BUCKET, "alpha")
    entry: dict[str, Any] | None = None if value is None else json.loads(value)
    return entry


def _forge(nats: NatsServer, caplog: pytest.LogCaptureFixture, **fields: Any) -> None:
    """Put a forged entry for alpha; return once the owning process has seen it."""
    forged = {
        "agent_id": "alpha",
        "name": "Alpha",
        "capabilities": ["x"],
        "endpoint": "http://localhost:8001",
        "metadata": {},
        **fields,
    }
    put_kv(nats.url, BUCKET, "alpha", json.dumps(forged).encode())
    eventually(lambda: FORGED_WARNING in caplog.text, "the owner noticed the forgery")


def test_a_forged_entry_under_an_own_agents_key_is_ignored_and_overwritten(
    make_nats_comm: Make, nats: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "otel_agents.messaging")
    owner = make_nats_comm()
    other = make_nats_comm()
    owner.register_agent("alpha", "Alpha", ["x"], "http://localhost:8001")
    eventually(lambda: other.registry.lookup("alpha"), "alpha, in the other process")
    _forge(
        nats,
        caplog,
        name="Mallory",
        capabilities=["x", "admin"],
        endpoint="http://evil.example:1",
        status="offline",
    )
    mine = owner.get_agent("alpha")
    assert (mine.name, mine.endpoint, mine.capabilities) == (
        "Alpha",
        "http://localhost:8001",
        ("x",),
    )
    assert mine.status is AgentStatus.ONLINE
    assert not any(change.reason == "unregistered" for change in owner.registry.status_history)
    assert all(change.status is not AgentStatus.OFFLINE for change in owner.registry.status_history)
    # The owner put its entry back: the bucket, and so the other process, hold it again.
    eventually(lambda: (_bucket_entry(nats) or {}).get("name") == "Alpha", "the entry back")
    assert _bucket_entry(nats) == json.loads(json.dumps(mine.to_dict()))
    real = ("Alpha", "http://localhost:8001", AgentStatus.ONLINE)
    eventually(
        lambda: (
            (i := other.registry.lookup("alpha")) is not None
            and (i.name, i.endpoint, i.status) == real
        ),
        "the real entry, in the other process",
    )
    owner.heartbeat("alpha")  # republishes the real entry, not the forgery
    eventually(lambda: (_bucket_entry(nats) or {}).get("name") == "Alpha", "the real entry")


def test_a_forged_offline_entry_does_not_take_an_own_agent_offline_anywhere(
    make_nats_comm: Make, nats: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "otel_agents.messaging")
    owner = make_nats_comm({"heartbeat_interval": 0.4})
    other = make_nats_comm({"heartbeat_interval": 0.4})
    owner.register_agent("alpha", "Alpha", ["x"], "http://localhost:8001")
    eventually(lambda: other.registry.lookup("alpha"), "alpha, in the other process")
    _forge(nats, caplog, status="offline")
    _forge(nats, caplog, status="offline")  # again: still overwritten, warned about once
    assert caplog.text.count(FORGED_WARNING) == 1
    assert owner.get_agent("alpha").status is AgentStatus.ONLINE
    eventually(lambda: (_bucket_entry(nats) or {}).get("status") == "online", "online again")
    eventually(lambda: other.get_agent("alpha").status is AgentStatus.ONLINE, "online in the other")


def test_registering_an_own_agent_again_puts_its_new_entry_for_every_process(
    make_nats_comm: Make, nats: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The echo of this process's own newest put is not taken for a forgery, even when it
    comes before the registry stores the new registration."""
    caplog.set_level(logging.WARNING, "otel_agents.messaging")
    owner = make_nats_comm()
    other = make_nats_comm()
    owner.register_agent("alpha", "Alpha", ["x"], "http://localhost:8001")
    for n in range(5):
        owner.register_agent("alpha", "Alpha", ["x", f"y{n}"], "http://localhost:8001")
    eventually(
        lambda: (i := other.registry.lookup("alpha")) is not None and "y4" in i.capabilities,
        "the last registration, in the other process",
    )
    assert (_bucket_entry(nats) or {}).get("capabilities") == ["x", "y4"]
    assert FORGED_WARNING not in caplog.text


def test_two_processes_running_one_agent_do_not_put_its_entry_back_without_end(
    make_nats_comm: Make, nats: NatsServer
) -> None:
    """A rolling restart runs one agent in two processes for a while: each takes the other's
    entry for a forgery and puts its own back, at most once a second (it was a put war of
    thousands of puts a second, for as long as both ran)."""
    first = make_nats_comm()
    second = make_nats_comm()
    first.register_agent("alpha", "Alpha", ["x"], "http://localhost:8001")
    eventually(lambda: second.registry.lookup("alpha"), "alpha, in the second process")
    second.register_agent("alpha", "Alpha", ["x"], "http://localhost:8001")
    time.sleep(0.5)  # both have seen each other's entries
    before = kv_revision(nats.url, BUCKET, "alpha")
    time.sleep(1.0)
    puts = kv_revision(nats.url, BUCKET, "alpha") - before
    # Each process puts back once a second at most: 2-4 in a second, never thousands.
    assert puts <= 10, f"{puts} puts of alpha's entry in one second"
    assert first.get_agent("alpha").status is AgentStatus.ONLINE
    assert second.get_agent("alpha").status is AgentStatus.ONLINE
