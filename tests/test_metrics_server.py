"""The prometheus exporter's ``/metrics`` server: serves the registry, stops at once, frees
its port, and refuses a taken port before it starts anything."""

from __future__ import annotations

import socket
import threading
import urllib.request

import pytest

from otel_agents._metrics_server import MetricsServer

pytestmark = pytest.mark.integration


def serving_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "otel-agents-prometheus"]


def test_it_serves_the_default_registry_and_frees_its_port_on_stop() -> None:
    server = MetricsServer("127.0.0.1", 0)
    host, port = server.address
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
            assert response.status == 200
            assert b"python_info" in response.read()  # prometheus_client's default registry
    finally:
        server.stop()
    assert serving_threads() == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=5).close()


def test_a_name_resolves_to_its_own_address_family() -> None:
    server = MetricsServer("localhost", 0)
    try:
        assert server.address[0] == "localhost"
        with urllib.request.urlopen(
            f"http://localhost:{server.address[1]}/metrics", timeout=10
        ) as response:
            assert response.status == 200
    finally:
        server.stop()


def test_a_taken_port_raises_before_any_thread_starts() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        with pytest.raises(OSError, match="in use"):
            MetricsServer("127.0.0.1", blocker.getsockname()[1])
    assert serving_threads() == []

