"""The compose ``nats`` service, run for real: JetStream with file storage on its volume.

Only the broker starts (``Topology.start(["nats"])``), with the command, volume and health
check ``docker-compose.yml`` gives it, from the ``nats-server`` ``scripts/fetch-stack`` builds.
A stream is created and written to over the NATS client protocol itself (a few lines of it,
no client library), and is still there after the broker restarts on the same volume.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _http
import pytest
from _images import image_tag, load_compose
from _stack_run import FETCH_TIMEOUT, stack_binaries
from _topology import Topology

pytestmark = [pytest.mark.integration, pytest.mark.timeout(FETCH_TIMEOUT + 120.0)]
STREAM = "TOPOLOGY"
IO_TIMEOUT = 10.0


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    topology = Topology(tmp_path, stack_binaries(), environ={})
    try:
        topology.start(["nats"])
        yield topology
    except Exception:
        print(topology.report())
        raise
    finally:
        topology.stop()


class Client:
    """Just enough of the NATS client protocol to ask JetStream's API and publish with an ack."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        self.buffer = b""
        info = self._line()
        assert info.startswith(b"INFO "), info
        self.info: dict[str, Any] = json.loads(info[5:])
        self.sock.sendall(b'CONNECT {"verbose":false,"headers":false,"protocol":1}\r\n')
        self.sock.sendall(b"SUB _INBOX.topology 1\r\n")

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "the broker closed the connection"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size + 2:
            chunk = self.sock.recv(65536)
            assert chunk, "the broker closed the connection"
            self.buffer += chunk
        payload, self.buffer = self.buffer[:size], self.buffer[size + 2 :]
        return payload

    def request(self, subject: str, payload: bytes) -> dict[str, Any]:
        """Publish with the reply inbox; the JSON reply (JetStream's API and acks answer so)."""
        self.sock.sendall(
            f"PUB {subject} _INBOX.topology {len(payload)}\r\n".encode() + payload + b"\r\n"
        )
        deadline = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < deadline:
            line = self._line()
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise AssertionError(line.decode())
            elif line.startswith(b"MSG "):
                reply: dict[str, Any] = json.loads(self._exactly(int(line.split()[-1])))
                return reply
        raise AssertionError(f"no reply to {subject} within {IO_TIMEOUT}s")

    def close(self) -> None:
        self.sock.close()


def jsz(topology: Topology) -> dict[str, Any]:
    response = _http.get(topology.url("nats", 8222, "/jsz"), timeout=5.0)
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def test_the_compose_nats_service_runs_jetstream_on_file_storage_on_a_loopback_port(
    topology: Topology, tmp_path: Path
) -> None:
    process = topology.processes["nats"]
    volume = tmp_path / "nats" / "volumes" / "nats-data"
    found = jsz(topology)

    assert "disabled" not in found or found["disabled"] is False
    assert Path(found["config"]["store_dir"]).resolve().is_relative_to(volume.resolve())
    assert found["config"]["max_storage"] > 0  # file storage is on
    client_port = topology.ports.get("nats", 4222)
    monitoring_port = topology.ports.get("nats", 8222)
    assert process.argv[process.argv.index("--port") + 1] == str(client_port)
    assert process.argv[process.argv.index("--http_port") + 1] == str(monitoring_port)
    varz = _http.get(topology.url("nats", 8222, "/varz"), timeout=5.0).json()
    assert (varz["host"], varz["port"], varz["http_port"]) == (
        "127.0.0.1",
        client_port,
        monitoring_port,
    )
    assert varz["jetstream"]["config"]["store_dir"] == found["config"]["store_dir"]


def test_the_binary_is_the_release_compose_pins(topology: Topology) -> None:
    printed = subprocess.run(
        [str(topology.binaries["nats"]), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    tag = image_tag(load_compose()["services"]["nats"])
    version = re.fullmatch(r"(\d+\.\d+\.\d+)-alpine", tag)
    assert version, tag
    assert f"v{version[1]}" in printed.stdout + printed.stderr


def test_a_stream_on_the_nats_volume_survives_a_broker_restart(topology: Topology) -> None:
    client = Client(topology.ports.get("nats", 4222))
    try:
        assert client.info["jetstream"] is True
        created = client.request(
            f"$JS.API.STREAM.CREATE.{STREAM}",
            json.dumps({"name": STREAM, "subjects": ["topology.>"], "storage": "file"}).encode(),
        )
        assert "error" not in created, created
        acks = [client.request("topology.sent", f"message {i}".encode()) for i in range(3)]
        assert [a["seq"] for a in acks] == [1, 2, 3]
    finally:
        client.close()

    topology.stop("nats")
    assert topology.killed == set()  # SIGTERM: JetStream flushes and exits by itself
    topology.start(["nats"])

    client = Client(topology.ports.get("nats", 4222))
    try:
        info = client.request(f"$JS.API.STREAM.INFO.{STREAM}", b"")
    finally:
        client.close()
    assert info["config"]["storage"] == "file"
    assert info["state"]["messages"] == 3
    assert jsz(topology)["streams"] == 1
