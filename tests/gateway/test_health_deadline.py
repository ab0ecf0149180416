"""Active health checks: one deadline per check, body included, and a bounded drain.

An endpoint that answers 200 and then trickles a chunked body forever used to hold its
check (each read came within the read timeout) and with it the whole round, since a round
waits for all of its checks: every other instance went unchecked, a dead one stayed in
rotation.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from otel_agents.gateway._health import ActiveHealthChecker, HealthPolicy
from otel_agents.gateway._registry import Instance, Service, parse_upstream_url

from .conftest import free_port, wait_until
from .rawserver import RawListener

pytestmark = pytest.mark.integration

_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


class EndlessHealth(RawListener):
    """Answers every connection's request with a 200 whose chunked body never ends: one
    ``piece`` every ``pause`` seconds (for 30 s at most), until the peer closes."""

    def __init__(self, piece: bytes, pause: float) -> None:
        self.chunk = b"%x\r\n%b\r\n" % (len(piece), piece)
        self.pause = pause
        #: Connections the peer (the gateway) closed while the body was still coming.
        self.closed_by_peer = 0
        self._lock = threading.Lock()
        super().__init__()

    def serve(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(5)
        deadline = time.monotonic() + 30
        try:
            received = b""
            while b"\r\n\r\n" not in received:
                data = conn.recv(65536)
                if not data:
                    return
                received += data
            conn.sendall(_HEAD)
            while not self.stopping and time.monotonic() < deadline:
                conn.sendall(self.chunk)
                if self.pause:
                    self.wait(self.pause)
        except OSError:
            if not self.stopping:
                with self._lock:
                    self.closed_by_peer += 1


@pytest.fixture
def trickle() -> Iterator[EndlessHealth]:
    """One byte every 50 ms: each read well within any timeout, the body never ending."""
    server = EndlessHealth(b"x", 0.05)
    yield server
    server.stop()


@pytest.fixture
def flood() -> Iterator[EndlessHealth]:
    """64 KiB chunks as fast as they are taken, forever."""
    server = EndlessHealth(b"y" * 65536, 0)
    yield server
    server.stop()


def test_a_trickling_health_body_neither_stalls_the_round_nor_passes(
    make_gateway: Any, trickle: EndlessHealth
) -> None:
    """The dead instance leaves the rotation after its threshold while the trickling one
    is still being checked: each of its checks ends at the deadline, as a failure."""
    dead_port = free_port()
    gateway = make_gateway(
        {"health_check_interval": 0.1, "unhealthy_threshold": 2, "request_timeout": 1}
    )
    gateway.register_service(
        "streamy", "S", "v1", trickle.url, health_check_url=trickle.url + "/health"
    )
    dead_url = f"http://127.0.0.1:{dead_port}"
    gateway.register_service("dead", "D", "v2", dead_url, health_check_url=dead_url + "/health")
    make_gateway.serve(gateway)  # the app's lifespan starts the checker
    dead = gateway.router.match("/v2/x").service.instances[0]
    streamy = gateway.router.match("/v1/x").service.instances[0]

    wait_until(lambda: not dead.healthy, timeout=20)
    wait_until(lambda: not streamy.healthy, timeout=20)

    # Each check past its deadline closed its connection rather than read on.
    wait_until(lambda: trickle.closed_by_peer >= 2, timeout=20)


def test_an_endless_fast_health_body_is_drained_only_up_to_its_cap(
    flood: EndlessHealth,
) -> None:
    """A 200 whose body never ends, sent fast: the check stops after ``MAX_HEALTH_BODY``
    bytes, long before its 30 s deadline, closes the connection, and the status decides
    (without the cap the check would run into its deadline and fail)."""
    url = parse_upstream_url("base_url", flood.url)
    instance = Instance(url, parse_upstream_url("health_check_url", flood.url + "/health"))
    service = Service("s", "S", "v1", "", [instance], {})
    policy = HealthPolicy(unhealthy_threshold=1)
    checker = ActiveHealthChecker(lambda: [service], policy, interval=60, timeout=30)

    async def scenario() -> None:
        try:
            await asyncio.wait_for(checker.check_once(), 60)
        finally:
            await checker.stop()

    asyncio.run(scenario())

    assert instance.healthy
    assert instance.failures == 0
    wait_until(lambda: flood.closed_by_peer == 1, timeout=20)
