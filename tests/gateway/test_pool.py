"""The per-upstream connection limit, against real uvicorn upstreams on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import _http
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otel_agents.gateway import UpstreamBusyError, UpstreamConnectError, UpstreamTimeoutError
from otel_agents.gateway._client import UpstreamClient, encode_head
from otel_agents.testing import TelemetryCapture

from .conftest import ThreadServer, free_port, upstream_app

pytestmark = pytest.mark.integration


class Concurrency:
    """Counts requests in flight at an upstream and remembers the peak."""

    def __init__(self) -> None:
        self.now = self.peak = 0
        self.lock = threading.Lock()
        #: ``/work?hold=1`` answers only once this is set (by the test, or at teardown).
        self.released = threading.Event()

    def app(self) -> Starlette:
        async def work(request: Request) -> Response:
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                if "hold" in request.query_params:
                    for _ in range(6000):  # 30 s at most
                        if self.released.is_set():
                            break
                        await asyncio.sleep(0.005)
                else:
                    await asyncio.sleep(float(request.query_params.get("sleep", "0.05")))
            finally:
                with self.lock:
                    self.now -= 1
            return Response(b"done")

        return Starlette(routes=[Route("/work", work)])


@pytest.fixture
def counted() -> Iterator[tuple[Concurrency, ThreadServer]]:
    concurrency = Concurrency()
    server = ThreadServer(concurrency.app()).start()
    yield concurrency, server
    concurrency.released.set()
    server.stop()


def get(client: UpstreamClient, port: int, target: str) -> Any:
    head = encode_head("GET", target, [(b"host", b"127.0.0.1")])
    return client.request("127.0.0.1", port, head, b"")


def run_all(client: UpstreamClient, *calls: Awaitable[Any]) -> list[Any]:
    """Run ``calls`` concurrently on a fresh loop; results or exceptions, in order."""

    async def scenario() -> list[Any]:
        try:
            return list(await asyncio.gather(*calls, return_exceptions=True))
        finally:
            await client.aclose()

    return asyncio.run(scenario())


async def later(call: Callable[[], Awaitable[Any]], delay: float = 0.05) -> Any:
    await asyncio.sleep(delay)
    return await call()


async def then_set(call: Awaitable[Any], event: threading.Event) -> Any:
    """``await call``, then set ``event`` (release a held answer), whatever happened."""
    try:
        return await call
    finally:
        event.set()


def test_requests_beyond_the_limit_wait_for_a_connection_and_all_succeed(
    counted: tuple[Concurrency, ThreadServer],
) -> None:
    concurrency, server = counted
    client = UpstreamClient(connect_timeout=5, read_timeout=5, max_connections_per_host=2)

    responses = run_all(client, *(get(client, server.port, "/work") for _ in range(8)))

    assert [r.status for r in responses] == [200] * 8
    assert concurrency.peak == 2


def test_a_request_that_waits_longer_than_its_timeout_is_busy(
    counted: tuple[Concurrency, ThreadServer],
) -> None:
    concurrency, server = counted
    client = UpstreamClient(connect_timeout=0.2, read_timeout=5, max_connections_per_host=1)

    slow, waiting = run_all(
        client,
        get(client, server.port, "/work?hold=1"),  # answers once the other gave up
        then_set(later(lambda: get(client, server.port, "/work")), concurrency.released),
    )

    assert slow.status == 200
    assert isinstance(waiting, UpstreamBusyError)
    assert waiting.error_type == "pool_exhausted"


def test_a_connection_that_fails_gives_its_slot_to_the_next_request(
    counted: tuple[Concurrency, ThreadServer],
) -> None:
    _, server = counted
    client = UpstreamClient(connect_timeout=5, read_timeout=0.5, max_connections_per_host=1)

    timed_out, waited = run_all(
        client,
        get(client, server.port, "/work?hold=1"),  # holds the only connection, then times out
        later(lambda: get(client, server.port, "/work")),
    )

    assert isinstance(timed_out, UpstreamTimeoutError)
    assert waited.status == 200


def test_refused_connections_never_use_up_the_limit() -> None:
    client = UpstreamClient(connect_timeout=1, read_timeout=1, max_connections_per_host=1)
    port = free_port()

    errors = run_all(client, *(get(client, port, "/") for _ in range(3)))

    assert [type(e) for e in errors] == [UpstreamConnectError] * 3


def test_the_gateway_answers_503_at_the_limit_without_holding_it_against_the_upstream(
    make_gateway: Any, telemetry: TelemetryCapture
) -> None:
    from .conftest import UpstreamState

    state = UpstreamState()
    upstream = ThreadServer(upstream_app(state)).start()
    try:
        gateway = make_gateway({"max_connections_per_upstream": 1, "unhealthy_threshold": 1})
        gateway.register_service("misc", "Misc", "v1", upstream.url)
        gateway.client.connect_timeout = 0.2  # how long a request waits for a connection
        url = make_gateway.serve(gateway).url

        async def scenario() -> list[httpx.Response]:
            async with _http.AsyncClient(base_url=url, timeout=10) as client:
                return list(
                    await asyncio.gather(
                        client.get("/v1/slow"),  # answers once the other was refused
                        then_set(later(lambda: client.get("/v1/users/1"), 0.1), state.released),
                    )
                )

        slow, refused = asyncio.run(scenario())
    finally:
        state.released.set()
        upstream.stop()

    assert slow.status_code == 200
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    assert "busy" in refused.json()["detail"]
    assert gateway.router.match("/v1/users").service.instances[0].healthy
    (error,) = telemetry.points("gateway.upstream.errors", {"error.type": "pool_exhausted"})
    assert error.value == 1


def test_no_slot_leaks_when_answers_time_out_between_quick_ones(
    counted: tuple[Concurrency, ThreadServer],
) -> None:
    _, server = counted
    client = UpstreamClient(connect_timeout=10, read_timeout=0.3, max_connections_per_host=3)
    targets = ["/work?hold=1" if n % 7 == 0 else "/work?sleep=0.01" for n in range(40)]
    pools: list[Any] = []

    async def scenario() -> list[Any]:
        results = await asyncio.gather(
            *(get(client, server.port, target) for target in targets), return_exceptions=True
        )
        pools.extend(next(iter(client._pools.values())).values())
        await client.aclose()
        return list(results)

    results = asyncio.run(scenario())

    timed_out = [r for r in results if isinstance(r, UpstreamTimeoutError)]
    assert len(timed_out) == targets.count("/work?hold=1")
    assert sum(getattr(r, "status", 0) == 200 for r in results) == len(targets) - len(timed_out)
    (pool,) = pools
    # Every slot still counted belongs to an idle connection, and nobody is left waiting.
    assert pool.count == len(pool.idle) == 0  # aclose closed the idle ones
    assert not pool._waiters
