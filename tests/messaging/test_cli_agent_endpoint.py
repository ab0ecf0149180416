"""``otel-agents agent`` registers an endpoint that works, or stops: ``--port 0`` registers the
port it got, a wildcard ``--host`` needs ``--endpoint``, and a registration the hub refuses for
good ends the process with exit code 2 after one line instead of a retry every second.

A real hub on 127.0.0.1 (free port); the agents are real ``otel-agents`` processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import _http
import pytest
from _cluster import Cluster
from _servers import ThreadServer

from otel_agents._cli import main
from otel_agents.messaging._hub import create_hub, create_hub_app

pytestmark = pytest.mark.integration  # a hub on 127.0.0.1, agent processes

#: A bound on each wait, far above what the agents need.
DEADLINE = 60.0
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_AGENTS_MESSAGING_")},
    "OTEL_SDK_DISABLED": "true",
    "OTEL_AGENTS_SYSTEM_METRICS": "false",
    "OTEL_AGENTS_DRAIN_TIMEOUT": "1",
}
#: The agent's drain on stop, kept short (nothing is processed here).
QUICK_DRAIN = {"OTEL_AGENTS_DRAIN_TIMEOUT": "1"}
AGENT = [sys.executable, "-m", "otel_agents._cli", "agent"]


@pytest.fixture
def hub() -> Iterator[ThreadServer]:
    """An open hub (no secret), as ``otel-agents hub --insecure`` serves it."""
    server = ThreadServer(create_hub_app(create_hub())).start()
    try:
        yield server
    finally:
        server.stop()


def registered(hub: ThreadServer, agent_id: str) -> dict[str, str] | None:
    answer = _http.get(f"{hub.url}/agents/{agent_id}", timeout=10)
    return answer.json() if answer.status_code == 200 else None


def test_with_port_0_the_agent_registers_the_port_it_listens_on(hub: ThreadServer) -> None:
    process = subprocess.Popen(
        [*AGENT, "--id", "p0", "--port", "0", "--hub", hub.url],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while (info := registered(hub, "p0")) is None:
            assert process.poll() is None, "the agent exited"
            assert time.monotonic() < deadline, "the agent never registered"
            time.sleep(0.05)
        assert not info["endpoint"].endswith(":0")
        health = _http.get(info["endpoint"] + "/healthz", timeout=10)
        assert health.json()["agent_id"] == "p0"  # the registered endpoint reaches the inbox
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_wildcard_host_without_endpoint_is_refused_at_start(
    hub: ThreadServer, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 naming ``--host`` and ``--endpoint``, before anything is registered."""
    assert main(["agent", "--id", "zero", "--host", host, "--port", "0", "--hub", hub.url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"otel-agents agent: error: --host={host!r} listens on all")
    assert "--endpoint" in err
    assert registered(hub, "zero") is None


def test_a_registration_refused_for_good_ends_the_agent_with_exit_2(hub: ThreadServer) -> None:
    """``--endpoint ftp://x``: the hub says 400; one error line, exit 2, no retries."""
    done = subprocess.run(
        [*AGENT, "--id", "ftp", "--port", "0", "--endpoint", "ftp://x", "--hub", hub.url],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "retrying" not in done.stderr
    (error,) = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert "refuses to register agent ftp" in error
    assert "the scheme must be http or https" in error
    assert "--endpoint" in error


@pytest.mark.parametrize("host", ["0.0.0.0", "[::]"])
def test_the_hub_calls_a_wildcard_endpoint_a_wildcard_and_points_at_endpoint(
    hub: ThreadServer, host: str
) -> None:
    registration = {
        "agent_id": "zero",
        "name": "zero",
        "capabilities": [],
        "endpoint": f"http://{host}:8101",
    }
    answer = _http.post(hub.url + "/agents", json=registration, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_message"
    detail = answer.json()["detail"]
    assert "is a wildcard address" in detail
    assert "otel-agents agent --endpoint" in detail
    assert "link-local" not in detail


@pytest.mark.parametrize("path", ["/\x1b]0;PWNED\x07\x1b[2J", "/a\nb", "/a b"])
def test_the_hub_refuses_an_endpoint_with_control_characters_or_spaces(
    hub: ThreadServer, path: str
) -> None:
    """They would come back in every refusal of a message sent to that agent."""
    registration = {
        "agent_id": "peer",
        "name": "peer",
        "capabilities": [],
        "endpoint": "http://127.0.0.1:1" + path,
    }
    answer = _http.post(hub.url + "/agents", json=registration, timeout=10)
    assert answer.status_code == 400
    assert "spaces or control characters" in answer.json()["detail"]
    assert registered(hub, "peer") is None


def test_a_registration_refused_after_a_hub_restart_ends_the_agent_with_exit_2(
    tmp_path: Path,
) -> None:
    """The hub restarts with a stricter config: re-registering is refused for good, exit 2.

    Real processes: a hub allowing a link-local endpoint, an agent registering one, then the
    hub restarted on the same port without that allowance (its registry empty, so the
    agent's next heartbeat is refused as unknown and the agent registers again).
    """
    cluster = Cluster(tmp_path, env={"OTEL_TRACES_EXPORTER": "none", **QUICK_DRAIN})
    hub = ["hub", "--port", str(cluster.hub_port)]
    try:
        cluster.start("hub", *hub, "--allow-endpoint-network", "169.254.0.0/16")
        cluster.wait_until(
            lambda: _http.get(cluster.hub_url + "/healthz").status_code == 200, "hub"
        )
        endpoint = ["--endpoint", "http://169.254.7.7:8101", "--heartbeat-interval", "0.3"]
        cluster.start(
            "r2", "agent", "--id", "r2", "--port", "0", *endpoint, "--hub", cluster.hub_url
        )
        cluster.wait_until(lambda: cluster.registered() == ["r2"], "r2 to register")
        cluster.stop("hub")
        cluster.start("hub", *hub)  # restarted: link-local endpoints refused now
        assert cluster.processes["r2"].wait(timeout=DEADLINE) == 2
        log = (tmp_path / "r2.err").read_text()
        assert "registering again" in log  # it was the re-registration that was refused
        (error,) = [line for line in log.splitlines() if "refuses to register agent r2" in line]
        assert "link-local" in error
        assert "next try in" not in log  # not retried
    finally:
        cluster.stop()
