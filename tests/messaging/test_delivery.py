"""Delivery state is true: a hub (``otel-agents hub``) and agents in real processes.

An agent that accepted a message (202) and was then killed with SIGKILL never processed it:
the hub, which waits for the agent's processed report, delivers it again, and parks it in
its dead-letter store when the agent does not come back; when it does, it is processed once.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _http
import pytest
from _cluster import MESSAGING_KEY, MESSAGING_SECRET, Cluster
from _support import REPO, free_port

from otel_agents.messaging import MessageType, SecurityConfig
from otel_agents.messaging._remote import RemoteAgent
from tests.messaging.test_integration import metric_points

pytestmark = pytest.mark.integration

AGENT_SCRIPT = Path(__file__).with_name("_agent_process.py")
AUTH = {"authorization": f"Bearer {MESSAGING_SECRET}", "x-agent-id": "test"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, env={"OTEL_TRACES_EXPORTER": "none"})
    try:
        yield cluster
    finally:
        cluster.stop()


def start_hub(cluster: Cluster, *options: str) -> None:
    cluster.start("hub", "hub", "--port", str(cluster.hub_port), *options)
    cluster.wait_until(lambda: _http.get(cluster.hub_url + "/healthz").status_code == 200, "hub")


def start_agent(cluster: Cluster, name: str, port: int, mode: str) -> Path:
    """Run ``_agent_process.py`` as process ``name``; returns the file it writes ids to."""
    out = cluster.tmp_path / f"{name}.ids"
    out.touch()
    err = (cluster.tmp_path / f"{name}.err").open("wb")
    arguments = ["agent-b", str(port), cluster.hub_url, mode, str(out)]
    cluster.processes[name] = subprocess.Popen(
        [sys.executable, str(AGENT_SCRIPT), *arguments],
        stdout=subprocess.DEVNULL,
        stderr=err,
        env=cluster.process_env(name),
        cwd=REPO,
    )
    err.close()
    return out


def send(cluster: Cluster) -> str:
    """Send one task to agent-b from a coordinator in this process; return its id."""

    async def go() -> str:
        coordinator = RemoteAgent(
            "coordinator",
            "Coordinator",
            [],
            "http://127.0.0.1:1",
            cluster.hub_url,
            security=SecurityConfig(shared_secret=MESSAGING_SECRET, signing_key=MESSAGING_KEY),
        )
        try:
            await coordinator.register()
            return await coordinator.send_message(
                "agent-b", MessageType.TASK_ASSIGNMENT, {"task": "scan"}
            )
        finally:
            await coordinator.aclose()

    return asyncio.run(go())


def hub_get(cluster: Cluster, path: str) -> Any:
    return _http.get(cluster.hub_url + path, headers=AUTH).json()


def kill(cluster: Cluster, name: str) -> None:
    process = cluster.processes.pop(name)
    process.kill()  # SIGKILL: no shutdown, the queued message dies with the process
    process.wait(timeout=10)


def ids(path: Path) -> list[str]:
    return path.read_text().split()


def test_a_message_accepted_by_an_agent_killed_before_processing_ends_as_a_dead_letter(
    cluster: Cluster,
) -> None:
    start_hub(cluster, "--ack-timeout", "1", "--max-delivery-attempts", "3",
              "--retry-backoff", "0.05")  # fmt: skip
    started = start_agent(cluster, "agent-b", free_port(), "block")
    cluster.wait_until(lambda: "agent-b" in cluster.registered(), "agent-b to register")
    message_id = send(cluster)
    cluster.wait_until(lambda: message_id in ids(started), "agent-b to start processing")
    assert hub_get(cluster, f"/messages/{message_id}")["status"] == "delivered"

    kill(cluster, "agent-b")

    def dead_letters() -> list[dict[str, Any]]:
        return list(hub_get(cluster, "/dead-letters")["dead_letters"])

    cluster.wait_until(lambda: bool(dead_letters()), "the dead letter", timeout=30)
    (letter,) = dead_letters()
    assert letter["message_id"] == message_id
    assert letter["recipient_id"] == "agent-b"
    assert letter["sender_id"] == "coordinator"
    assert letter["attempts"] == 3
    assert letter["reason"] == "recipient_unreachable"
    assert "unreachable" in letter["error"]
    record = hub_get(cluster, f"/messages/{message_id}")
    assert record["status"] == "dead_lettered"
    assert record["error_type"] == "recipient_unreachable"

    cluster.stop("hub")
    (counted,) = metric_points(cluster.metrics("hub"), "agent.message.dead_lettered")
    assert counted["value"] == 1
    assert counted["attributes"] == {
        "messaging.destination.name": "agent-b",
        "error.type": "recipient_unreachable",
    }
    redelivered = metric_points(cluster.metrics("hub"), "agent.message.redelivered")
    assert [p["value"] for p in redelivered] == [2]


def test_a_message_lost_with_a_killed_agent_is_processed_once_when_it_comes_back(
    cluster: Cluster,
) -> None:
    start_hub(cluster, "--ack-timeout", "1", "--max-delivery-attempts", "30",
              "--retry-backoff", "0.2")  # fmt: skip
    port = free_port()
    started = start_agent(cluster, "first", port, "block")
    cluster.wait_until(lambda: "agent-b" in cluster.registered(), "agent-b to register")
    message_id = send(cluster)
    cluster.wait_until(lambda: message_id in ids(started), "agent-b to start processing")
    kill(cluster, "first")

    processed = start_agent(cluster, "second", port, "record")
    cluster.wait_until(
        lambda: hub_get(cluster, f"/messages/{message_id}")["status"] == "processed",
        "the hub to learn that the message was processed",
        timeout=30,
    )
    # Nothing awaits an outcome any more, so the hub schedules no other delivery; a copy it
    # may have sent just before the report came in would still reach the agent and be
    # recorded: watched for 2.5 s (an ack timeout and the agent's own time on a loaded machine).
    cluster.wait_until(
        lambda: hub_get(cluster, "/dead-letters")["pending"] == 0, "the hub to await nothing"
    )
    time.sleep(2.5)
    assert ids(processed) == [message_id]
    assert hub_get(cluster, "/dead-letters")["dead_letters"] == []
    assert hub_get(cluster, "/dead-letters")["pending"] == 0


def test_agents_register_again_after_a_hub_restart_and_receive_messages(
    cluster: Cluster,
) -> None:
    start_hub(cluster, "--heartbeat-interval", "0.3")
    arguments = ["--id", "agent-b", "--hub", cluster.hub_url, "--heartbeat-interval", "0.3"]
    cluster.start("agent-b", "agent", *arguments, "--port", str(free_port()))
    cluster.wait_until(lambda: cluster.registered() == ["agent-b"], "agent-b to register")

    cluster.stop("hub")
    start_hub(cluster, "--heartbeat-interval", "0.3")  # same port, empty registry
    cluster.wait_until(lambda: cluster.registered() == ["agent-b"], "agent-b to come back")
    message_id = send(cluster)
    cluster.wait_until(
        lambda: hub_get(cluster, f"/messages/{message_id}")["status"] == "processed",
        "agent-b to process a message sent after the restart",
    )
    log = (cluster.tmp_path / "agent-b.err").read_text()
    assert "does not know agent agent-b (did it restart?): registering again" in log
    assert "agent agent-b is registered again" in log
