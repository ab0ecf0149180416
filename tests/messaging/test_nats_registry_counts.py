"""Over NATS, ``agent.registry.agents`` summed over the processes counts every agent once.

Every process mirrors the whole JetStream registry; when each reported the gauge for all of
it, the System board's "Agents online" (a sum over processes) showed 4 for 2 agents, and
OtelAgentsAgentOffline fired once per process for one offline agent. Each process now counts
only the agents it runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_agents import semconv as sc
from otel_agents.messaging import AgentCommunicationProtocol
from tests._nats import NatsServer

pytestmark = pytest.mark.integration

DEADLINE = 10.0  # seconds for the mirrors to see each other's agents


class Process:
    """One agent process: its own protocol on the broker and its own MeterProvider."""

    def __init__(self, url: str) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])
        self.comm = AgentCommunicationProtocol(
            {"transport": url, "broker_timeout": 10.0, "heartbeat_monitor": False},
            meter_provider=self.provider,
        )

    def registry_agents(self) -> dict[str, int]:
        """``agent.registry.agents`` by status, as this process exports it."""
        data = self.reader.get_metrics_data()
        return {
            str(point.attributes[sc.AGENT_STATUS]): int(point.value)
            for rm in (data.resource_metrics if data else ())
            for sm in rm.scope_metrics
            for metric in sm.metrics
            if metric.name == sc.AGENT_REGISTRY_AGENTS.name
            for point in metric.data.data_points
        }

    def stop(self) -> None:
        self.comm.stop()
        self.provider.shutdown()


@pytest.fixture
def processes(nats: NatsServer) -> Iterator[list[Process]]:
    made: list[Process] = []
    try:
        made.extend(Process(nats.url) for _ in range(2))
        yield made
    finally:
        for process in made:
            process.stop()


def _wait_until_each_sees(processes: list[Process], count: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while any(len(p.comm.list_agents()) != count for p in processes):
        assert time.monotonic() < deadline, [p.comm.list_agents() for p in processes]
        time.sleep(0.05)


def _total(processes: list[Process], status: str) -> int:
    return sum(p.registry_agents().get(status, 0) for p in processes)


def test_two_nats_processes_report_two_agents_in_all(processes: list[Process]) -> None:
    analyst, reporter = processes
    analyst.comm.register_agent("analyst", "Analyst", ["x"], "nats-agent://analyst")
    reporter.comm.register_agent("reporter", "Reporter", ["x"], "nats-agent://reporter")
    _wait_until_each_sees(processes, 2)

    assert _total(processes, "online") == 2
    assert [p.registry_agents()["online"] for p in processes] == [1, 1]


def test_one_offline_agent_is_reported_by_its_own_process_only(
    processes: list[Process],
) -> None:
    analyst, reporter = processes
    analyst.comm.register_agent("analyst", "Analyst", ["x"], "nats-agent://analyst")
    reporter.comm.register_agent("reporter", "Reporter", ["x"], "nats-agent://reporter")
    _wait_until_each_sees(processes, 2)

    reporter.comm.update_agent_status("reporter", "error")
    deadline = time.monotonic() + DEADLINE
    while analyst.comm.registry.get("reporter").status.value != "error":  # mirrored
        assert time.monotonic() < deadline
        time.sleep(0.05)

    assert reporter.registry_agents()["error"] == 1
    assert analyst.registry_agents()["error"] == 0
    assert (_total(processes, "online"), _total(processes, "error")) == (1, 1)


def test_an_in_process_registry_counts_every_agent() -> None:
    """Without a broker (and in the hub, which runs every HTTP agent) nothing is mirrored:
    the process counts all of its agents."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    comm = AgentCommunicationProtocol({"heartbeat_monitor": False}, meter_provider=provider)
    try:
        for agent in ("a", "b", "c"):
            comm.register_agent(agent, agent, ["x"], f"local://{agent}")
        data = reader.get_metrics_data()
        counts = {
            str(point.attributes[sc.AGENT_STATUS]): int(point.value)
            for rm in (data.resource_metrics if data else ())
            for sm in rm.scope_metrics
            for metric in sm.metrics
            if metric.name == sc.AGENT_REGISTRY_AGENTS.name
            for point in metric.data.data_points
        }
        assert counts["online"] == 3
    finally:
        comm.stop()
        provider.shutdown()
