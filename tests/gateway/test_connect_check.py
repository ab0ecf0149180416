"""DNS rebinding: upstreams from the admin API and hub discovery are reached only at
addresses checked at connect, on real sockets on 127.0.0.1.

The test's resolver is the dependency the gateway is given (``ResolverPool(getaddrinfo)``,
``APIGateway(upstream_resolver=...)``): it answers for one name what the test sets now,
and records every name it is asked. Everything else is real: the gateway's client, its
pool, the upstream listeners, TLS.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _http
import pytest
import trustme
from opentelemetry.trace import SpanKind

from otel_agents import semconv
from otel_agents.gateway import (
    UpstreamConnectError,
    UpstreamForbiddenAddressError,
    UpstreamTimeoutError,
)
from otel_agents.gateway._client import UpstreamClient, encode_head
from otel_agents.gateway._connect_check import ConnectCheck
from otel_agents.gateway._discovery import HUB_TOKEN_ENV, HubDiscovery
from otel_agents.gateway._health import ActiveHealthChecker, HealthPolicy
from otel_agents.gateway._registry import Instance, Service, parse_upstream_url
from otel_agents.gateway._resolver import ResolverPool
from otel_agents.testing import TelemetryCapture
from tests.messaging.helpers import SECRET
from tests.messaging.servers import AUTH, start_hub

from .conftest import ThreadServer, UpstreamState, upstream_app, wait_until
from .rawserver import RawUpstream

pytestmark = pytest.mark.integration  # listeners, a hub and gateways on 127.0.0.1

#: The name the test's resolver answers for (``.test`` is reserved: no real DNS has it).
NAME = "rebind.test"
METADATA = "169.254.169.254"
ADMIN = {"X-Admin-Token": "admin-secret"}
REFUSED_LOG = "refused to connect to upstream host"


class SwitchableResolver:
    """A ``getaddrinfo`` that answers for :data:`NAME` the addresses in ``answer`` (set
    by the test at any time) and fails for every other name; records each name asked."""

    def __init__(self, *answer: str) -> None:
        self.answer = list(answer)
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        with self._lock:
            self.asked.append(host)
            answer = list(self.answer)
        if host != NAME:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answer
        ]


def _answer_and_close(head: bytes) -> bytes:
    """Each answer ends its connection: every request needs a new one (a new check)."""
    return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


@pytest.fixture
def listener() -> Iterator[RawUpstream]:
    server = RawUpstream(_answer_and_close)
    yield server
    server.stop()


def _host_headers(listener: RawUpstream) -> list[bytes]:
    heads = [bytes(c.received).split(b"\r\n\r\n")[0] for c in listener.connections]
    return [line for head in heads for line in head.split(b"\r\n") if line.startswith(b"host:")]


def _refusal_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if REFUSED_LOG in r.getMessage()]


def _admin_gateway(make_gateway: Any, resolver: SwitchableResolver, **config: Any) -> Any:
    settings = {"admin_token": "admin-secret", "unhealthy_threshold": 100, **config}
    return make_gateway(settings, upstream_resolver=ResolverPool(resolver))


def _register(url: str, service_id: str, base_url: str) -> None:
    entry = {"service_id": service_id, "version": "v1", "path_prefix": f"/{service_id}"}
    response = _http.post(
        f"{url}/_gateway/services", json=entry | {"base_url": base_url}, headers=ADMIN
    )
    assert response.status_code == 201, response.text


def test_an_admin_upstream_whose_name_rebinds_to_a_metadata_address_is_refused_at_connect(
    make_gateway: Any,
    listener: RawUpstream,
    telemetry: TelemetryCapture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    resolver = SwitchableResolver("127.0.0.1")
    gateway = _admin_gateway(make_gateway, resolver)
    url = make_gateway.serve(gateway).url
    _register(url, "r", f"http://{NAME}:{listener.port}")

    assert _http.get(f"{url}/v1/r/x").status_code == 200
    assert listener.accepted == 1

    # Rebound: one answer still public, one the metadata service. Any forbidden one refuses.
    resolver.answer = ["127.0.0.1", METADATA]
    with caplog.at_level(logging.WARNING, logger="otel_agents.gateway"):
        refused = [_http.get(f"{url}/v1/r/x") for _ in range(2)]
    assert [r.status_code for r in refused] == [502, 502]
    for response in refused:
        assert response.headers["content-type"] == "application/problem+json"
        assert METADATA not in response.text
        assert "127.0.0.1" not in response.text
        assert NAME not in response.text

    resolver.answer = ["127.0.0.1"]  # back to a public answer: served again
    assert _http.get(f"{url}/v1/r/x").status_code == 200
    # The refused requests never reached the listener, though 127.0.0.1 was in the answer.
    assert listener.accepted == 2
    assert _host_headers(listener) == [f"host: {NAME}:{listener.port}".encode()] * 2

    logged = _refusal_logs(caplog)
    assert len(logged) == 1  # once per host, not once per request
    assert NAME in logged[0]
    assert METADATA in logged[0]  # the operator's log says what it resolved to

    wait_until(lambda: len(telemetry.spans()) >= 8)  # 4 server, 4 client spans
    clients = [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT]
    errors = [s.attributes.get(semconv.ERROR_TYPE) for s in clients if s.attributes]
    assert errors.count(semconv.GATEWAY_ERROR_FORBIDDEN_ADDRESS) == 2
    (point,) = telemetry.points(
        semconv.GATEWAY_UPSTREAM_ERRORS.name,
        {semconv.ERROR_TYPE: semconv.GATEWAY_ERROR_FORBIDDEN_ADDRESS},
    )
    assert point.value == 2


def test_a_checked_upstream_reached_by_name_keeps_its_host_header(
    make_gateway: Any, listener: RawUpstream
) -> None:
    resolver = SwitchableResolver("127.0.0.1")
    gateway = _admin_gateway(make_gateway, resolver)
    url = make_gateway.serve(gateway).url
    _register(url, "r", f"http://{NAME}:{listener.port}/base")

    assert _http.get(f"{url}/v1/r/x?q=1").text == "ok"

    assert resolver.asked.count(NAME) >= 1  # resolved by the gateway at connect
    (head,) = [bytes(c.received) for c in listener.connections]
    assert head.startswith(b"GET /base/r/x?q=1 HTTP/1.1\r\n")
    assert _host_headers(listener) == [f"host: {NAME}:{listener.port}".encode()]


def test_operator_services_and_literal_addresses_are_not_resolved_by_the_gateway(
    make_gateway: Any, listener: RawUpstream
) -> None:
    resolver = SwitchableResolver("127.0.0.1")
    operator = {"service_id": "cfg", "version": "v1", "path_prefix": "/cfg"}
    operator["base_url"] = f"http://localhost:{listener.port}"  # a config-file service
    gateway = _admin_gateway(make_gateway, resolver, services=[operator])
    gateway.register_service(
        "py", "py", "v1", f"http://localhost:{listener.port}", path_prefix="/py"
    )
    url = make_gateway.serve(gateway).url
    _register(url, "lit", f"http://127.0.0.1:{listener.port}")  # checked, but a literal

    for service in ("cfg", "py", "lit"):
        assert _http.get(f"{url}/v1/{service}/x").status_code == 200, service

    assert listener.accepted == 3
    assert resolver.asked == []  # the operator's names go to the system resolver, by name


def test_an_https_checked_upstream_is_verified_for_its_name_not_its_address(
    make_gateway: Any, tmp_path: Path
) -> None:
    """The certificate names only ``rebind.test``: verification against the address the
    gateway connected to (127.0.0.1) would fail; ``server_hostname`` is the name."""
    ca = trustme.CA()
    ca_file, chain, key = tmp_path / "ca.pem", tmp_path / "chain.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    certificate = ca.issue_cert(NAME)
    certificate.private_key_and_cert_chain_pem.write_to_path(str(chain))
    certificate.private_key_pem.write_to_path(str(key))
    state = UpstreamState()
    upstream = ThreadServer(upstream_app(state), tls=(str(chain), str(key))).start()
    try:
        resolver = SwitchableResolver("127.0.0.1")
        gateway = _admin_gateway(make_gateway, resolver, upstream_ca_file=str(ca_file))
        url = make_gateway.serve(gateway).url
        _register(url, "users", f"https://{NAME}:{upstream.port}")

        response = _http.get(f"{url}/v1/users/7")

        assert response.status_code == 200, response.text
        assert response.json() == {"id": "7", "name": "Ada"}
        assert state.header("host") == f"{NAME}:{upstream.port}"
        assert NAME in resolver.asked
    finally:
        upstream.stop()


def test_a_discovered_instance_whose_name_rebinds_is_refused_at_connect(
    make_gateway: Any, listener: RawUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HUB_TOKEN_ENV, SECRET)
    hub = start_hub()
    resolver = SwitchableResolver("127.0.0.1")
    pool = ResolverPool(resolver)
    gateway = make_gateway({"unhealthy_threshold": 100}, upstream_resolver=pool)
    discovery = HubDiscovery(gateway, hub.url, "agents", resolver=pool)
    try:
        agent = {"agent_id": "a", "name": "a", "capabilities": ["x"]}
        agent["endpoint"] = f"http://{NAME}:{listener.port}"
        assert _http.post(f"{hub.url}/agents", json=agent, headers=AUTH).status_code == 201
        assert discovery.refresh() == (agent["endpoint"],)
        assert gateway.route_request("GET", "/v1/x").status_code == 200

        resolver.answer = [METADATA]
        assert gateway.route_request("GET", "/v1/x").status_code == 502
        assert listener.accepted == 1
    finally:
        discovery.stop()
        hub.stop()


def test_the_health_checks_of_a_checked_instance_are_refused_too(listener: RawUpstream) -> None:
    resolver = SwitchableResolver("127.0.0.1")
    base = f"http://{NAME}:{listener.port}"
    instance = Instance(
        parse_upstream_url("base_url", base),
        parse_upstream_url("health_check_url", base + "/health"),
        checked=True,
    )
    service = Service("s", "s", "v1", "", [instance], {})
    policy = HealthPolicy(unhealthy_threshold=1, healthy_threshold=1)
    checker = ActiveHealthChecker(
        lambda: [service],
        policy,
        interval=60,
        timeout=10,
        connect_check=ConnectCheck(ResolverPool(resolver)),
    )

    async def rounds() -> list[bool]:
        seen = []
        await checker.check_once()
        seen.append(instance.healthy)
        resolver.answer = [METADATA]
        await checker.check_once()
        seen.append(instance.healthy)
        await checker.stop()
        return seen

    assert asyncio.run(rounds()) == [True, False]
    assert listener.accepted == 1


def _request(client: UpstreamClient, host: str, port: int) -> Any:
    async def main() -> Any:
        try:
            return await client.request(host, port, encode_head("GET", "/", [(b"host", b"h")]), b"")
        finally:
            await client.aclose()

    return asyncio.run(main())


def _checked_client(pool: ResolverPool) -> UpstreamClient:
    return UpstreamClient(connect_timeout=30, read_timeout=30, connect_check=ConnectCheck(pool))


def test_a_name_that_does_not_resolve_is_a_connect_error_not_a_refusal() -> None:
    client = _checked_client(ResolverPool(SwitchableResolver("127.0.0.1")))
    with pytest.raises(UpstreamConnectError) as failed:
        _request(client, "elsewhere.test", 8000)
    assert not isinstance(failed.value, UpstreamForbiddenAddressError)
    assert failed.value.error_type == "connect_error"


def test_a_metadata_host_name_is_refused_without_asking_the_resolver() -> None:
    resolver = SwitchableResolver("127.0.0.1")
    with pytest.raises(UpstreamForbiddenAddressError):
        _request(_checked_client(ResolverPool(resolver)), "metadata.google.internal", 80)
    assert resolver.asked == []


class _StuckResolver:
    """A ``getaddrinfo`` that does not answer until released (bounded: 30 s)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        self.release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


def test_an_answer_that_does_not_come_in_time_never_connects() -> None:
    """Unknown is not "allowed": a timeout (504), also when every resolver thread is
    stuck on an earlier name (the name waits in the queue, then leaves it), never a
    connection by name."""
    stuck = _StuckResolver()
    pool = ResolverPool(stuck, max_threads=1, timeout=0.2)
    try:
        with pytest.raises(UpstreamTimeoutError):
            _request(_checked_client(pool), NAME, 8000)
        assert pool.busy == 1  # the abandoned thread still waits for its answer
        with pytest.raises(UpstreamTimeoutError, match="timed out"):
            _request(_checked_client(pool), NAME, 8000)
        assert pool.busy == 1  # no second thread: the name waited for the stuck one
        assert not pool._jobs  # and left the queue when its caller stopped waiting
    finally:
        stuck.release.set()
    wait_until(lambda: pool.busy == 0)


def test_a_resolver_thread_that_answered_takes_the_next_name_then_ends_when_idle() -> None:
    """One thread for a run of lookups (starting one costs more than a lookup), and none
    left behind once no name comes for ``idle_timeout`` seconds."""
    threads: list[int] = []

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        threads.append(threading.get_ident())
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    pool = ResolverPool(resolver, idle_timeout=0.2)

    async def lookups() -> list[list[str] | None]:
        return [await pool.lookup(f"h{i}.example", 80) for i in range(5)]

    assert asyncio.run(lookups()) == [["10.0.0.7"]] * 5
    assert pool.resolve([("h5.example", 80)]) == {("h5.example", 80): ["10.0.0.7"]}
    assert len(set(threads)) == 1
    wait_until(lambda: all(t.ident != threads[0] for t in threading.enumerate()))
    assert pool.busy == 0


def test_an_instance_discovery_keeps_becomes_checked_and_is_never_unchecked_again(
    make_gateway: Any,
) -> None:
    gateway = make_gateway()
    gateway.register_service("s", "s", "v1", "http://a.example:80", path_prefix="/s")
    (operator,) = gateway._services["s"].instances
    assert operator.checked is False  # the operator's own

    gateway.set_instances("s", ["http://a.example:80", "http://b.example:80"], checked=True)
    assert [i.checked for i in gateway._services["s"].instances] == [True, True]
    assert gateway._services["s"].instances[0] is operator  # kept, health state and all

    gateway.set_instances("s", ["http://a.example:80", "http://b.example:80"])
    assert [i.checked for i in gateway._services["s"].instances] == [True, True]


class _GatedResolver:
    """A ``getaddrinfo`` that answers 127.0.0.1 for every name once ``gate`` is set
    (bounded: 30 s): a resolver that takes a while, not one that hangs."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls: list[str] = []

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        self.calls.append(host)
        self.gate.wait(30)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


def test_more_new_connections_than_resolver_threads_wait_for_a_thread_not_fail(
    listener: RawUpstream,
) -> None:
    """3 new connections at once (to 3 names: connections to one name share its lookup),
    2 resolver threads both busy (not stuck) answering the first two: the third waits for
    one of them within the resolver's timeout. It used to be refused at once as "no
    resolver thread was free", a 504 that counts as a failure of a healthy instance: any
    burst of 9 new connections took checked upstreams out of rotation."""
    resolver = _GatedResolver()
    pool = ResolverPool(resolver, max_threads=2, timeout=30)
    client = _checked_client(pool)
    head = encode_head("GET", "/", [(b"host", b"h")])

    async def burst() -> list[Any]:
        calls = [client.request(f"n{i}.{NAME}", listener.port, head, b"") for i in range(3)]
        tasks = [asyncio.ensure_future(call) for call in calls]
        try:
            for _ in range(3000):  # bounded: 30 s
                if len(resolver.calls) >= 2 or all(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.01)
            resolver.gate.set()
            return await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            resolver.gate.set()
            await client.aclose()

    results = asyncio.run(burst())
    assert [getattr(r, "status", r) for r in results] == [200, 200, 200]
    assert listener.accepted == 3
    assert pool.busy <= 2  # no thread beyond the bound


def test_a_literal_upstream_is_reached_at_its_address_never_handed_to_the_resolver_by_name(
    make_gateway: Any, listener: RawUpstream
) -> None:
    """``127.0.0.1.`` and ``0x7f.0.0.1`` are literals to the check (no lookup, checked
    at registration), but were connected to as written: ``getaddrinfo('127.0.0.1.')`` is
    a DNS query for a name, whatever that DNS answers (a connection by name, unchecked).
    The check connects to the address it parsed."""
    resolver = SwitchableResolver("127.0.0.1")
    check = ConnectCheck(ResolverPool(resolver))

    async def addresses() -> list[list[str]]:
        return [await check.addresses(h, 80) for h in ("127.0.0.1.", "0x7f.0.0.1", "::1")]

    assert asyncio.run(addresses()) == [["127.0.0.1"], ["127.0.0.1"], ["::1"]]

    gateway = _admin_gateway(make_gateway, resolver)
    url = make_gateway.serve(gateway).url
    _register(url, "dot", f"http://127.0.0.1.:{listener.port}")
    assert _http.get(f"{url}/v1/dot/x").status_code == 200
    assert resolver.asked == []
    assert _host_headers(listener) == [f"host: 127.0.0.1.:{listener.port}".encode()]


def test_a_name_that_starts_like_an_address_is_resolved_and_checked_not_taken_for_one() -> None:
    """A zone id (``%...``) belongs to IPv6 literals only: ``127.0.0.1%x.rebind.test`` is a
    name, and was taken for the literal 127.0.0.1 (never resolved by the check nor by
    discovery, then handed to the system resolver by name)."""
    name = "127.0.0.1%x.rebind.test"

    def resolver(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host != name:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (METADATA, port))]

    with pytest.raises(UpstreamForbiddenAddressError):
        _request(_checked_client(ResolverPool(resolver)), name, 80)


@pytest.mark.parametrize(
    "answer",
    [None, [("too", "short")], [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("localhost", 1))]],
    ids=["none", "malformed", "a-name"],
)
def test_a_resolver_answer_that_is_not_addresses_never_connects_and_ends_no_thread(
    listener: RawUpstream, answer: Any
) -> None:
    """An answer the check cannot read as addresses "does not resolve" (a 502). Its parsing
    ran outside the resolver's ``try`` (the hand merge moved it): the thread died, still
    counted (after ``max_threads`` such answers no name was ever resolved again) and the
    caller waited for the timeout; and a name where an address belongs was skipped by the
    check and then connected to, by name."""
    if answer is not None and len(answer[0]) == 5:
        answer = [(*answer[0][:4], ("localhost", listener.port))]  # reachable by name
    pool = ResolverPool(lambda *args, **kwargs: answer, max_threads=1, idle_timeout=0.2)
    with pytest.raises(UpstreamConnectError) as failed:
        _request(_checked_client(pool), NAME, listener.port)
    assert failed.value.error_type == "connect_error"
    assert listener.accepted == 0
    wait_until(lambda: pool.busy == 0)


def test_a_metadata_address_spelled_with_ideographic_dots_is_refused_as_the_literal_it_is() -> None:
    """``169\u3002254\u3002169\u3002254`` is what every IDNA encoder makes
    ``169.254.169.254``: refused as that literal, not handed to the resolver as a name."""
    resolver = SwitchableResolver("127.0.0.1")
    with pytest.raises(UpstreamForbiddenAddressError):
        _request(_checked_client(ResolverPool(resolver)), "169\u3002254\u3002169\u3002254", 80)
    assert resolver.asked == []
