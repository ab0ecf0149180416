"""The newcomer path: ``otel-agents send``, and the lines the hub and agents print.

Real uvicorn servers on 127.0.0.1 (free ports); the CLI reads the secret and the signing key
from the environment, as documented.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import _http
import pytest

from otel_agents._cli import main
from otel_agents.messaging._cli_serving import listening_url
from otel_agents.messaging._hub import create_hub, create_hub_app
from otel_agents.messaging._remote import RemoteAgent
from otel_agents.messaging._security import SecurityConfig
from otel_agents.testing import TelemetryCapture
from tests.messaging.helpers import KEY, SECRET, Net
from tests.messaging.servers import AUTH, ThreadServer, security, start_hub, start_inbox

pytestmark = pytest.mark.integration  # real servers or processes on 127.0.0.1


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ThreadServer, RemoteAgent]]:
    """A hub and a registered ``planner`` inbox; the CLI's secrets in the environment."""
    monkeypatch.setenv("OTEL_AGENTS_MESSAGING_SECRET", SECRET)
    monkeypatch.setenv("OTEL_AGENTS_MESSAGING_SIGNING_KEY", KEY)
    hub = start_hub()
    planner, inbox = start_inbox("planner", hub.url)
    registration = {
        "agent_id": "planner",
        "name": "Planner",
        "capabilities": ["planning"],
        "endpoint": inbox.url,
    }
    _http.post(hub.url + "/agents", json=registration, headers=AUTH).raise_for_status()
    yield hub, planner
    inbox.stop()
    hub.stop()
    asyncio.run(planner.aclose())


def send(hub: ThreadServer, *extra: str) -> int:
    return main(["send", "--no-telemetry", "--hub", hub.url, "--from", "coordinator", *extra])


def test_send_registers_the_sender_and_prints_the_id_and_the_hubs_record(
    network: tuple[ThreadServer, RemoteAgent], capsys: pytest.CaptureFixture[str]
) -> None:
    hub, planner = network
    assert send(hub, "--to", "planner", "--type", "task_assignment", '{"task": "scan"}') == 0
    out, err = capsys.readouterr()
    message_id, record = out.splitlines()
    assert f"registered coordinator with {hub.url}" in err
    assert json.loads(record)["message_id"] == message_id
    assert json.loads(record)["status"] in ("delivered", "processed")
    (queued,) = planner.queue.drain()
    assert (queued.message_id, queued.sender_id, queued.payload) == (
        message_id,
        "coordinator",
        {"task": "scan"},
    )
    assert send(hub, "--to", "planner", "{}") == 0  # already registered: no second line
    assert "registered" not in capsys.readouterr().err


def test_send_explains_a_refusal_in_one_line_and_fails(
    network: tuple[ThreadServer, RemoteAgent], capsys: pytest.CaptureFixture[str]
) -> None:
    hub, _ = network
    assert send(hub, "--to", "nobody", "{}") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 2  # "registered ..." then the error
    assert err.strip().splitlines()[-1].startswith("otel-agents send: ")
    assert "nobody" in err


def test_send_refuses_a_payload_that_is_not_json(
    network: tuple[ThreadServer, RemoteAgent], capsys: pytest.CaptureFixture[str]
) -> None:
    hub, _ = network
    assert send(hub, "--to", "planner", "{task: scan}") == 2
    assert "is not JSON" in capsys.readouterr().err


def test_a_registration_that_succeeds_after_failures_says_so(
    telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture
) -> None:
    """The hub is down at first (the agent warns), then up: the agent says it registered."""
    from otel_agents.messaging import SecurityConfig

    net = Net(telemetry, SecurityConfig(shared_secret=SECRET, signing_key=KEY))
    hub_app = net.router.apps.pop("hub")
    agent = net.agents["agent-a"]

    async def scenario() -> None:
        stop = asyncio.Event()
        runner = asyncio.create_task(agent.run(stop))
        deadline = time.monotonic() + 10
        while "registering agent-a" not in caplog.text and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        net.router.apps["hub"] = hub_app
        while "agent-a" not in [a.agent_id for a in net.hub.list_agents()]:
            assert time.monotonic() < deadline + 10, "agent-a never registered"
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(runner, timeout=10)

    with caplog.at_level(logging.INFO, logger="otel_agents.messaging"):
        asyncio.run(scenario())
    assert "registering agent-a with http://hub failed" in caplog.text
    assert re.search(r"agent agent-a is registered with http://hub after \d+ failed", caplog.text)


def test_send_starts_the_trace_the_hub_continues(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real ``otel-agents send`` process: its send span is the parent of the hub's."""
    providers = {
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
    }
    hub = ThreadServer(
        create_hub_app(create_hub(security=security(), **providers), security(), **providers)
    ).start()
    planner, inbox = start_inbox("planner", hub.url)
    try:
        registration = {
            "agent_id": "planner",
            "name": "P",
            "capabilities": [],
            "endpoint": inbox.url,
        }
        _http.post(hub.url + "/agents", json=registration, headers=AUTH).raise_for_status()
        env = {
            **os.environ,
            "OTEL_AGENTS_MESSAGING_SECRET": SECRET,
            "OTEL_AGENTS_MESSAGING_SIGNING_KEY": KEY,
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_AGENTS_SYSTEM_METRICS": "false",
        }
        command = [sys.executable, "-m", "otel_agents._cli", "send", "--hub", hub.url]
        done = subprocess.run(
            [*command, "--from", "coordinator", "--to", "planner", '{"task": "scan"}'],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        inbox.stop()
        hub.stop()
        asyncio.run(planner.aclose())
    assert done.returncode == 0, done.stderr
    (server,) = [s for s in telemetry.spans("POST /messages")]
    (route,) = telemetry.spans("route planner")
    assert server.parent is not None
    assert server.parent.is_remote  # the CLI's send span, in the CLI's process
    assert route.parent is not None
    assert route.parent.span_id == server.parent.span_id  # the hub routes in the send's trace


def test_the_hub_says_where_it_listens_once(tmp_path: object) -> None:
    """``otel-agents hub --port 0`` prints one ``listening`` line with the port it got."""
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_AGENTS_DRAIN_TIMEOUT": "100",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_agents._cli", "hub", "--insecure", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("listening" in line for line in lines):
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
    finally:
        process.terminate()
        rest = process.communicate(timeout=30)[1]
    listening = [line for line in lines + rest.splitlines() if "listening" in line]
    assert len(listening) == 1, lines
    assert re.search(r"the hub is listening on http://127\.0\.0\.1:\d+$", listening[0].strip())
    assert not listening[0].strip().endswith(":0")


def test_a_bad_hub_url_is_an_error_line_and_exit_code_2_without_its_credentials(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["send", "--no-telemetry", "--hub", "ftp://u:pw-SECRET@hub", "--to", "b", "{}"])

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("otel-agents send: error: hub_url is not valid")
    assert "pw-SECRET" not in err
    assert "Traceback" not in err


def test_the_registered_line_names_the_hub_without_its_credentials(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub behind a proxy that takes ``user:password@`` (here an open hub, which ignores
    the Basic credentials httpx sends): the line names the hub by host and port only."""
    monkeypatch.delenv("OTEL_AGENTS_MESSAGING_SECRET", raising=False)
    monkeypatch.delenv("OTEL_AGENTS_MESSAGING_SIGNING_KEY", raising=False)
    hub = start_hub(security=SecurityConfig())
    try:
        with_credentials = hub.url.replace("http://", "http://ops:pw-SECRET@")
        main(
            [
                "send",
                "--no-telemetry",
                "--hub",
                with_credentials,
                "--from",
                "newcomer",
                "--to",
                "x",
                "{}",
            ]
        )
    finally:
        hub.stop()
    err = capsys.readouterr().err
    assert f"registered newcomer with {hub.url}" in err
    assert "pw-SECRET" not in err


def test_the_listening_line_puts_an_ipv6_host_in_brackets() -> None:
    assert listening_url("::1", 8100) == "http://[::1]:8100"
    assert listening_url("127.0.0.1", 8100) == "http://127.0.0.1:8100"
