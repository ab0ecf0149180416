"""Bad command-line input is refused before any side effect, with exit code 2 and one line
naming the option: ``send --to/--from`` with an id outside the agent id grammar (before the
sender is registered anywhere), and ``hub``/``agent``/``gateway --host`` with a host that does
not resolve (before anything is served or registered, not uvicorn's bare exit 3).

A real hub on 127.0.0.1 (free port) shows that nothing reached it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import _http
import pytest
from _servers import ThreadServer

from otel_agents._cli import main
from otel_agents.messaging._hub import create_hub, create_hub_app

pytestmark = pytest.mark.integration  # a hub on 127.0.0.1; host names are resolved

#: Hosts no resolver answers: not an IPv4 address, and a reserved name (RFC 2606).
BAD_HOSTS = ["999.1.1.1", "no-such-host.invalid"]


@pytest.fixture
def hub() -> Iterator[ThreadServer]:
    """An open hub (no secret), as ``otel-agents hub --insecure`` serves it."""
    server = ThreadServer(create_hub_app(create_hub())).start()
    try:
        yield server
    finally:
        server.stop()


def agents(hub: ThreadServer) -> list[str]:
    answer = _http.get(hub.url + "/agents", timeout=10)
    answer.raise_for_status()
    return [agent["agent_id"] for agent in answer.json()]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--to", "bad/id"], "--to='bad/id'"),
        (["--to", "x", "--from", "bad/id"], "--from='bad/id'"),
        (["--to", "a b\x1b]0;x\x07"], "--to='a b\\x1b]0;x\\x07'"),
    ],
)
def test_send_refuses_a_bad_agent_id_before_registering_anything(
    hub: ThreadServer, options: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["send", "--no-telemetry", "--hub", hub.url, *options, "{}"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"otel-agents send: {named} is not valid: expected an agent id")
    assert len(err.strip().splitlines()) == 1
    assert agents(hub) == []  # the sender "cli" was not registered on the way


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_the_hub_refuses_a_host_that_does_not_resolve(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hub", "--insecure", "--host", host, "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"otel-agents hub: --host={host!r} cannot be listened on")


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_an_agent_refuses_a_host_that_does_not_resolve_before_registering(
    hub: ThreadServer, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["agent", "--id", "a", "--host", host, "--port", "0", "--hub", hub.url]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"otel-agents agent: error: --host={host!r} cannot be listened")
    assert agents(hub) == []


def test_the_gateway_refuses_a_host_that_does_not_resolve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[gateway]\nport = 0\n")
    argv = ["gateway", "--config", str(config), "--host", "999.1.1.1", "--no-telemetry"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("otel-agents gateway: --host='999.1.1.1' cannot be listened on")
