"""A gateway dropped without ``close()`` (the seed never calls it) is collected, and its
portal loop thread ends, health checks and pooled upstream connections with it. Before, the
loop thread (and the meter provider's callbacks) kept every such gateway alive for good."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from otel_agents.gateway import APIGateway
from otel_agents.testing import TelemetryCapture

from .rawserver import RawUpstream

pytestmark = pytest.mark.integration

DEADLINE = 30.0  # generous: the machine is shared; the tests assert behaviour, not speed
_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def raw() -> Iterator[RawUpstream]:
    upstream = RawUpstream(lambda head: _OK, linger=DEADLINE)
    yield upstream
    upstream.stop()


def _loop_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "otel-agents-gateway"}


def test_dropped_gateways_are_collected_and_their_loop_threads_end(
    raw: RawUpstream, telemetry: TelemetryCapture
) -> None:
    refs: list[weakref.ref[APIGateway]] = []
    started: set[threading.Thread] = set()
    for _ in range(3):
        before = _loop_threads()
        gateway = APIGateway(
            {"health_check_interval": 3600},  # the checker task runs on the loop
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
        )
        gateway.register_service("s", "S", "v1", raw.url, health_check_url="/health")
        assert gateway.route_request("GET", "/v1/x").status_code == 200
        (thread,) = _loop_threads() - before
        started.add(thread)
        refs.append(weakref.ref(gateway))
        del gateway
    telemetry.metrics()  # the provider holds the gateways' gauge callbacks

    gc.collect()

    assert [r() for r in refs] == [None] * 3
    for thread in started:
        thread.join(DEADLINE)
        assert not thread.is_alive()
    # Their pooled connections were closed, not left to the loop's end.
    for connection in raw.connections:
        assert connection.done.wait(DEADLINE)
        assert connection.closed_by_peer


def test_close_then_collection_is_harmless_and_a_kept_gateway_keeps_its_loop(
    raw: RawUpstream, telemetry: TelemetryCapture
) -> None:
    closed = APIGateway(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    closed.register_service("s", "S", "v1", raw.url)
    assert closed.route_request("GET", "/v1/x").status_code == 200
    closed.close()
    closed.close()  # twice: safe
    kept = APIGateway(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    kept.register_service("s", "S", "v1", raw.url)
    try:
        assert kept.route_request("GET", "/v1/x").status_code == 200
        del closed
        gc.collect()
        assert kept.route_request("GET", "/v1/y").status_code == 200
        assert kept.list_services()[0]["service_id"] == "s"
    finally:
        kept.close()
