"""The agent registry is bounded: at most ``max_agents`` agents,
``max_agent_metadata_bytes`` of metadata and ``MAX_CAPABILITIES`` capabilities each; the
hub unregisters an agent offline and silent for longer than ``offline_agent_retention``.

Anyone with the shared secret used to be able to register any number of ids with up to
1 MiB of metadata each, kept for good (silent agents only turn offline) and all sent back in
one ``GET /agents``. The in-process protocol and the hub share the registry; the hub's
answers (503 ``registry_full``, 400 naming metadata) are checked over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import _http
import pytest
from _waits import eventually

from otel_agents.messaging import InvalidMessageError, RegistryFullError
from otel_agents.messaging._registry import MAX_CAPABILITIES, MAX_CAPABILITY_LENGTH
from otel_agents.messaging._remote import RemoteAgent
from tests.messaging.servers import AUTH, security, start_hub


def test_past_max_agents_a_new_id_is_refused_and_known_ids_still_register(
    make_comm: Any,
) -> None:
    """Two agents registered with max_agents=2: a third id is refused (naming max_agents);
    re-registering a known one still works; once one is unregistered the third fits."""
    comm = make_comm({"max_agents": 2})
    comm.register_agent("a", "A", ["x"], "http://a")
    comm.register_agent("b", "B", ["x"], "http://b")
    with pytest.raises(RegistryFullError, match="max_agents=2"):
        comm.register_agent("c", "C", ["x"], "http://c")
    assert [info.agent_id for info in comm.list_agents()] == ["a", "b"]
    comm.register_agent("a", "A again", ["x", "y"], "http://a")  # an update, not a new id
    comm.unregister_agent("b")
    comm.register_agent("c", "C", ["x"], "http://c")
    assert [info.agent_id for info in comm.list_agents()] == ["a", "c"]


def test_metadata_over_its_limit_is_refused_naming_the_setting(make_comm: Any) -> None:
    """Metadata of exactly max_agent_metadata_bytes (compact JSON) is kept; one byte more is
    refused, and the agent is not registered."""
    comm = make_comm({"max_agent_metadata_bytes": 100})
    fits = {"k": "v" * (100 - len(json.dumps({"k": ""}, separators=(",", ":"))))}
    assert len(json.dumps(fits, separators=(",", ":"))) == 100
    comm.register_agent("a", "A", ["x"], "http://a", fits)
    with pytest.raises(InvalidMessageError, match="max_agent_metadata_bytes=100") as caught:
        comm.register_agent("b", "B", ["x"], "http://b", {"k": fits["k"] + "v"})
    assert "metadata is 101 bytes" in str(caught.value)
    assert [info.agent_id for info in comm.list_agents()] == ["a"]


def test_more_or_longer_capabilities_than_the_limits_are_refused(make_comm: Any) -> None:
    """At most MAX_CAPABILITIES capabilities of MAX_CAPABILITY_LENGTH characters: one more,
    or one character more, is refused naming capabilities and the limits."""
    comm = make_comm()
    most = [f"c{n}" for n in range(MAX_CAPABILITIES)]
    comm.register_agent("a", "A", most, "http://a")
    comm.register_agent("b", "B", ["x" * MAX_CAPABILITY_LENGTH], "http://b")
    limits = f"at most {MAX_CAPABILITIES} capabilities of at most {MAX_CAPABILITY_LENGTH}"
    with pytest.raises(InvalidMessageError, match=limits) as caught:
        comm.register_agent("c", "C", [*most, "one-more"], "http://c")
    assert f"{MAX_CAPABILITIES + 1} given" in str(caught.value)
    with pytest.raises(InvalidMessageError, match=limits):
        comm.register_agent("d", "D", ["x" * (MAX_CAPABILITY_LENGTH + 1)], "http://d")
    assert [info.agent_id for info in comm.list_agents()] == ["a", "b"]


def test_the_default_limits_are_ten_thousand_agents_and_16_kib_of_metadata(
    make_comm: Any,
) -> None:
    comm = make_comm()
    assert comm.registry.max_agents == 10_000
    assert comm.registry.max_metadata_bytes == 16_384
    assert comm.config["offline_agent_retention"] == 86_400.0


def test_silent_offline_lists_only_agents_offline_and_silent_for_longer(
    make_comm: Any, clock: Any
) -> None:
    """An agent that stops heartbeating goes offline, then past the retention is listed; one
    that heartbeats is not; the hub's removal is recorded with its reason."""
    comm = make_comm({"heartbeat_interval": 10, "heartbeat_miss_limit": 1})
    comm.register_agent("gone", "Gone", ["x"], "http://gone")
    comm.register_agent("alive", "Alive", ["x"], "http://alive")
    clock.advance(11)
    comm.heartbeat("alive")
    assert comm.check_heartbeats() == ["gone"]
    assert comm.registry.silent_offline(100) == []
    clock.advance(100)
    comm.heartbeat("alive")
    assert comm.registry.silent_offline(100) == ["gone"]
    comm.unregister_agent("gone", reason="offline_retention")
    assert comm.registry.status_history.snapshot()[-1].reason == "offline_retention"


@pytest.mark.integration  # a hub on 127.0.0.1
def test_the_hub_answers_503_registry_full_and_400_for_large_metadata() -> None:
    """Over HTTP: a third id on a hub with max_agents=2 gets 503 registry_full (a
    RemoteAgent raises RegistryFullError); metadata over the limit gets 400 naming metadata;
    GET /agents lists the two."""
    hub = start_hub({"max_agents": 2, "max_agent_metadata_bytes": 1024})

    def register(
        agent_id: str, metadata: dict[str, Any] | None = None, capabilities: Any = ("x",)
    ) -> Any:
        body = {
            "agent_id": agent_id,
            "name": agent_id,
            "capabilities": list(capabilities),
            "endpoint": f"http://{agent_id}.example:8000",
            "metadata": metadata or {},
        }
        return _http.post(f"{hub.url}/agents", json=body, headers=AUTH, timeout=10)

    try:
        large = register("a", {"blob": "x" * 2000})
        assert large.status_code == 400, large.text
        assert large.json()["error"] == "invalid_message"
        assert "max_agent_metadata_bytes=1024" in large.json()["detail"]
        many = register("a", capabilities=[f"c{n}" for n in range(3000)])
        assert many.status_code == 400, many.text
        assert many.json()["error"] == "invalid_message"
        assert "3000 given" in many.json()["detail"]
        assert register("a").status_code == 201
        assert register("b").status_code == 201
        full = register("c")
        assert full.status_code == 503, full.text
        assert full.json()["error"] == "registry_full"
        assert "max_agents=2" in full.json()["detail"]

        async def remote() -> None:
            agent = RemoteAgent("d", "d", [], "http://d.example:8000", hub.url, security=security())
            try:
                with pytest.raises(RegistryFullError, match="max_agents=2"):
                    await agent.register()
            finally:
                await agent.aclose()

        asyncio.run(remote())
        listed = _http.get(f"{hub.url}/agents", headers=AUTH, timeout=10).json()
        assert [agent["agent_id"] for agent in listed] == ["a", "b"]
    finally:
        hub.stop()


@pytest.mark.integration  # a hub on 127.0.0.1
def test_the_hub_unregisters_an_agent_offline_past_the_retention_freeing_its_place() -> None:
    """A ghost (registered, never heartbeating) on a hub with max_agents=1 goes offline,
    then is unregistered after offline_agent_retention: GET /agents/ghost is 404 and a new
    agent can register in its place."""
    config = {
        "max_agents": 1,
        "heartbeat_interval": 0.2,
        "heartbeat_miss_limit": 1,
        "offline_agent_retention": 0.5,
    }
    hub = start_hub(config)

    def register(agent_id: str) -> Any:
        body = {
            "agent_id": agent_id,
            "name": agent_id,
            "capabilities": ["x"],
            "endpoint": f"http://{agent_id}.example:8000",
        }
        return _http.post(f"{hub.url}/agents", json=body, headers=AUTH, timeout=10)

    try:
        assert register("ghost").status_code == 201
        assert register("next").status_code == 503  # the ghost holds the only place

        def gone() -> bool:
            found = _http.get(f"{hub.url}/agents/ghost", headers=AUTH, timeout=10)
            return found.status_code == 404

        eventually(gone, "the hub to unregister the silent agent", timeout=30)
        assert register("next").status_code == 201
    finally:
        hub.stop()
