"""Idle pooled upstream connections expire after ``upstream_keepalive_expiry`` seconds.

An upstream closes an idle keep-alive connection after its own timeout; a POST that takes
that connection just then is lost (a 502: it must not be retried). Expiring idle
connections before the upstream does sends it over a new connection instead. Time is a
fake monotonic clock the tests move by hand, so nothing here depends on the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import _http
import pytest

from otel_agents.gateway import GatewayConfigError
from otel_agents.gateway._client import UpstreamClient, encode_head
from otel_agents.gateway._config import GatewayConfig

from .rawserver import DroppingUpstream, RawUpstream

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dropping() -> Iterator[DroppingUpstream]:
    upstream = DroppingUpstream()
    yield upstream
    upstream.stop()


@pytest.fixture
def answering() -> Iterator[RawUpstream]:
    upstream = RawUpstream(lambda head: OK)
    yield upstream
    upstream.stop()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("idle", "status", "connection"),
    [(4.5, 200, 2), (3.5, 502, 1)],
    ids=["expired-new-connection", "within-expiry-reused-and-lost"],
)
def test_a_post_after_the_expiry_goes_over_a_new_connection_the_upstream_did_not_close(
    make_gateway: Any, dropping: DroppingUpstream, idle: float, status: int, connection: int
) -> None:
    """The upstream drops its first connection as the next request on it arrives: past
    the expiry the POST never uses it and succeeds; within it, it is lost (and not retried)."""
    clock = FakeClock()
    gateway = make_gateway({"request_timeout": 5, "upstream_keepalive_expiry": 4}, clock=clock)
    gateway.register_service("pay", "Pay", "v1", dropping.url)
    url = make_gateway.serve(gateway).url

    with _http.Client(base_url=url, timeout=10) as client:
        first = client.get("/v1/balance")  # leaves a pooled keep-alive connection
        clock.now += idle
        second = client.post("/v1/charge", content=b"amount=10")

    assert first.status_code == 200
    assert second.status_code == status
    assert [(n, body) for n, line, body in dropping.seen if line.startswith("POST")] == [
        (connection, b"amount=10")
    ]


def get(client: UpstreamClient, port: int) -> Any:
    return client.request("127.0.0.1", port, encode_head("GET", "/", [(b"host", b"up")]), b"")


@pytest.mark.integration
def test_a_connection_reused_within_the_expiry_is_kept_and_its_idle_time_restarts(
    answering: RawUpstream,
) -> None:
    clock = FakeClock()
    client = UpstreamClient(connect_timeout=5, read_timeout=5, keepalive_expiry=4, clock=clock)

    async def scenario() -> list[int]:
        statuses = []
        try:
            for pause in (0.0, 3.9, 3.9, 4.1):  # each pause counts from the last release
                clock.now += pause
                statuses.append((await get(client, answering.port)).status)
        finally:
            await client.aclose()
        return statuses

    statuses = asyncio.run(scenario())

    assert statuses == [200] * 4
    assert answering.accepted == 2
    requests = [bytes(c.received).count(b"\r\n\r\n") for c in answering.connections]
    assert requests == [3, 1]
    assert answering.connections[0].done.wait(10)
    assert answering.connections[0].closed_by_peer  # the client closed the expired one


@pytest.mark.integration
def test_every_expired_idle_connection_is_closed_when_the_pool_is_next_used(
    answering: RawUpstream,
) -> None:
    """Not only the ones a request looks at: the newest idle connection is still fresh
    and taken, and the two older, expired ones are closed all the same."""
    clock = FakeClock()
    client = UpstreamClient(connect_timeout=5, read_timeout=5, keepalive_expiry=4, clock=clock)
    idle_after: list[int] = []

    async def scenario() -> None:
        try:
            await asyncio.gather(*(get(client, answering.port) for _ in range(3)))
            (pool,) = next(iter(client._pools.values())).values()
            clock.now += 3
            await get(client, answering.port)  # the newest idle one, idle again from now
            idle_after.append(len(pool.idle))
            clock.now += 2  # the other two idled 5 s, that one 2 s
            await get(client, answering.port)
            idle_after.append(len(pool.idle))
        finally:
            await client.aclose()

    asyncio.run(scenario())

    assert answering.accepted == 3
    assert idle_after == [3, 1]
    requests = [bytes(c.received).count(b"\r\n\r\n") for c in answering.connections]
    assert sorted(requests) == [1, 1, 3]
    expired = [c for c, count in zip(answering.connections, requests, strict=True) if count == 1]
    for record in expired:
        assert record.done.wait(10)
        assert record.closed_by_peer


def test_the_keepalive_expiry_defaults_to_4_seconds_and_reads_its_variable() -> None:
    variable = {"OTEL_AGENTS_GATEWAY_UPSTREAM_KEEPALIVE_EXPIRY": "1.5"}

    assert GatewayConfig.from_mapping({}, environ={}).upstream_keepalive_expiry == 4.0
    assert GatewayConfig.from_mapping({}, environ=variable).upstream_keepalive_expiry == 1.5


@pytest.mark.parametrize("value", [0, -1, "nan", float("inf"), "soon", None])
def test_a_bad_keepalive_expiry_is_refused_naming_key_value_and_what_to_give(
    value: object,
) -> None:
    with pytest.raises(GatewayConfigError) as caught:
        GatewayConfig.from_mapping({"upstream_keepalive_expiry": value}, environ={})

    message = str(caught.value)
    assert f"upstream_keepalive_expiry={value!r}" in message
    assert "expected a positive number of seconds, e.g. 4" in message


def test_a_bad_keepalive_expiry_variable_stops_the_gateway_too() -> None:
    variable = {"OTEL_AGENTS_GATEWAY_UPSTREAM_KEEPALIVE_EXPIRY": "-2"}

    with pytest.raises(GatewayConfigError, match="OTEL_AGENTS_GATEWAY_UPSTREAM_KEEPALIVE_EXPIRY"):
        GatewayConfig.from_mapping({}, environ=variable)
