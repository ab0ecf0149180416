"""find_agents_by_capability with several capabilities, requirements and a status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otel_agents.messaging import (
    AgentCommunicationProtocol,
    InvalidMessageError,
    UnknownCapabilityError,
)


@pytest.fixture
def comm() -> Iterator[AgentCommunicationProtocol]:
    comm = AgentCommunicationProtocol()
    comm.register_agent("a", "A", ["search", "summarize"], "inproc://a", {"region": "eu"})
    comm.register_agent("b", "B", ["search"], "inproc://b", {"region": "us", "tier": "gold"})
    comm.register_agent("c", "C", ["search", "summarize"], "inproc://c", {"region": "us"})
    yield comm
    comm.stop()


def ids(found: list[object]) -> list[str]:
    return [str(getattr(info, "agent_id", "")) for info in found]


def test_one_capability_works_as_in_the_seed(comm: AgentCommunicationProtocol) -> None:
    assert ids(comm.find_agents_by_capability("search")) == ["a", "b", "c"]


def test_several_capabilities_must_all_be_offered(comm: AgentCommunicationProtocol) -> None:
    assert ids(comm.find_agents_by_capability(["search", "summarize"])) == ["a", "c"]


def test_requirements_match_metadata_equal_or_one_of(comm: AgentCommunicationProtocol) -> None:
    assert ids(comm.find_agents_by_capability("search", {"region": "us"})) == ["b", "c"]
    assert ids(comm.find_agents_by_capability("search", {"region": ["eu", "us"]})) == [
        "a",
        "b",
        "c",
    ]
    assert ids(comm.find_agents_by_capability(["search", "summarize"], {"tier": "gold"})) == []


def test_status_filters_the_matches(comm: AgentCommunicationProtocol) -> None:
    comm.update_agent_status("a", "offline")
    assert ids(comm.find_agents_by_capability("summarize", status="online")) == ["c"]


def test_an_unoffered_capability_in_a_list_is_named(comm: AgentCommunicationProtocol) -> None:
    with pytest.raises(UnknownCapabilityError, match="'teleport'"):
        comm.find_agents_by_capability(["search", "teleport"])


@pytest.mark.parametrize("bad", ["", [], ["search", ""], 3])
def test_bad_capabilities_are_refused(comm: AgentCommunicationProtocol, bad: object) -> None:
    with pytest.raises(InvalidMessageError, match="capability"):
        comm.find_agents_by_capability(bad)  # type: ignore[arg-type]


def test_requirements_must_be_a_mapping(comm: AgentCommunicationProtocol) -> None:
    with pytest.raises(InvalidMessageError, match="requirements"):
        comm.find_agents_by_capability("search", ["region"])  # type: ignore[arg-type]
