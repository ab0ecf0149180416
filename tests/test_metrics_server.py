"""The prometheus exporter's ``/metrics`` server: serves the registry, stops at once, frees
its port, and refuses a taken port before it starts anything."""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.request

import pytest
from _waits import eventually

from otel_agents._metrics_server import MAX_SCRAPES, MetricsServer

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


def scraped(host: str, port: int) -> bool:
    """Whether one scrape is answered 200 (False if the server closed the connection)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
            return response.status == 200
    except (ConnectionError, http.client.RemoteDisconnected):
        return False


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed ``sock`` (a bounded wait: 10 s)."""
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_connections_over_the_cap_are_closed_and_scrapes_still_served() -> None:
    server = MetricsServer("127.0.0.1", 0)
    host, port = server.address
    idle = [socket.create_connection((host, port), timeout=5) for _ in range(MAX_SCRAPES)]
    try:
        with socket.create_connection((host, port), timeout=5) as extra:
            assert closed_by_server(extra)
        for sock in idle:
            sock.close()
        # The slots free up as the idle connections' threads see them closed.
        eventually(lambda: scraped(host, port), "a scrape once the idle connections closed")
    finally:
        for sock in idle:
            sock.close()
        server.stop()


def test_a_silent_connection_is_closed_after_the_scrape_timeout() -> None:
    server = MetricsServer("127.0.0.1", 0, timeout=0.3)
    try:
        with socket.create_connection(server.address, timeout=5) as silent:
            assert closed_by_server(silent)
    finally:
        server.stop()


def test_a_request_trickled_past_the_scrape_timeout_is_closed() -> None:
    """A client that sends its request a byte at a time, each byte well inside the timeout,
    still gets its connection closed once the whole request has taken longer than it: the
    timeout bounds the request, not each read (else 16 such clients hold every slot)."""
    server = MetricsServer("127.0.0.1", 0, timeout=0.5)
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 400
    try:
        with socket.create_connection(server.address, timeout=5) as slow:
            slow.settimeout(0.05)
            closed = False
            for byte in request:  # at most 440 bytes, 0.05 s apart: 22 s
                try:
                    slow.sendall(bytes([byte]))
                    closed = slow.recv(1) == b""
                except TimeoutError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                if closed:
                    break
            assert closed, "the server still reads a request trickled over many timeouts"
    finally:
        server.stop()
