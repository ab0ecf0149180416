"""A gateway service whose instances are discovered from a hub's registered agents."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import _http
import httpx
import pytest

from otel_agents._errors import InvalidValueError
from otel_agents.gateway._discovery import HUB_TOKEN_ENV, HubDiscovery
from tests.messaging.helpers import SECRET
from tests.messaging.servers import AUTH, ThreadServer as HubServer, start_hub

from .conftest import ThreadServer, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    monkeypatch.setenv(HUB_TOKEN_ENV, SECRET)
    server = start_hub()
    yield server
    server.stop()


def register(hub: HubServer, agent_id: str, endpoint: str, capability: str) -> None:
    _http.post(
        f"{hub.url}/agents",
        headers=AUTH,
        json={
            "agent_id": agent_id,
            "name": agent_id,
            "capabilities": [capability],
            "endpoint": endpoint,
        },
    ).raise_for_status()


def test_agents_with_the_capability_become_the_services_instances(
    make_gateway: Any, upstream: ThreadServer, hub: HubServer
) -> None:
    gateway = make_gateway()
    register(hub, "searcher", upstream.url, "search")
    register(hub, "other", "http://127.0.0.1:9", "plan")
    discovery = HubDiscovery(gateway, hub.url, "search", capability="search")
    try:
        assert discovery.refresh() == (upstream.url,)
        (service,) = gateway.list_services()
        assert service["service_id"] == "search"
        assert gateway.route_request("GET", "/v1/users/7").status_code == 200

        _http.delete(f"{hub.url}/agents/searcher", headers=AUTH).raise_for_status()
        assert discovery.refresh() == ()
        (service,) = gateway.list_services()  # kept, answering 503 until agents return
        assert service["instances"] == []
        assert gateway.route_request("GET", "/v1/users/7").status_code == 503
    finally:
        discovery.stop()


def test_link_local_and_non_http_endpoints_a_hub_reports_are_skipped(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    """Our hub refuses such registrations; another (older, compromised) hub may not."""
    answer = [
        {"agent_id": "good", "status": "online", "endpoint": upstream.url},
        {"agent_id": "meta", "status": "online", "endpoint": "http://169.254.169.254"},
        {"agent_id": "gce", "status": "online", "endpoint": "http://metadata.google.internal"},
        {"agent_id": "file", "status": "online", "endpoint": "file:///etc/passwd"},
        {"agent_id": "down", "status": "offline", "endpoint": "http://127.0.0.1:9"},
    ]
    # Streamed, as an answer from the network is (the discovery reads raw, bounded bytes).
    body = httpx.ByteStream(json.dumps(answer).encode())
    fake_hub = httpx.MockTransport(lambda request: httpx.Response(200, stream=body))
    gateway = make_gateway()
    discovery = HubDiscovery(gateway, "http://hub.invalid", "search", transport=fake_hub)
    try:
        assert discovery.refresh() == (upstream.url,)
    finally:
        discovery.stop()


def test_the_periodic_refresh_picks_up_new_agents(
    make_gateway: Any, upstream: ThreadServer, hub: HubServer
) -> None:
    gateway = make_gateway()
    with HubDiscovery(gateway, hub.url, "search", interval=0.05) as discovery:
        register(hub, "late", upstream.url, "search")
        deadline = time.monotonic() + 10  # a hang guard, not a speed target
        while discovery.instances != (upstream.url,):
            assert time.monotonic() < deadline, "discovery never saw the new agent"
            time.sleep(0.02)


def test_a_bad_hub_url_is_refused(make_gateway: Any) -> None:
    from otel_agents._errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="hub_url"):
        HubDiscovery(make_gateway(), "ftp://hub", "search")


def test_discover_from_hub_starts_discovery_and_close_stops_it(
    make_gateway: Any, upstream: ThreadServer, hub: HubServer
) -> None:
    gateway = make_gateway()
    register(hub, "searcher", upstream.url, "search")
    discovery = gateway.discover_from_hub(hub.url, "search", capability="search", interval=0.05)
    deadline = time.monotonic() + 10  # a hang guard, not a speed target
    while discovery.instances != (upstream.url,):
        assert time.monotonic() < deadline, "discovery never ran"
        time.sleep(0.02)
    gateway.close()
    assert not discovery._worker.running


class _HostileHub:
    """A hub whose ``/agents`` answer never ends: ``chunks`` pieces of ``size`` bytes, a
    ``pause`` apart (bounded in count); it records how many it got to send."""

    def __init__(self, chunks: int, size: int, pause: float) -> None:
        self.chunks, self.size, self.pause = chunks, size, pause
        self.sent = 0
        self.stopped = False  # set by the test once it has seen the cut

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        piece = b"[" + b" " * (self.size - 1)
        try:
            for _ in range(self.chunks):
                if self.stopped:
                    return
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                self.sent += 1
                await asyncio.sleep(self.pause)
            await send({"type": "http.response.body", "body": b""})
        except OSError:  # the gateway hung up: what the test wants
            return


@pytest.mark.parametrize(
    ("hub_app", "error", "match"),
    [
        (_HostileHub(chunks=1024, size=64 * 1024, pause=0.01), ValueError, "larger than"),
        (_HostileHub(chunks=100, size=1, pause=0.1), TimeoutError, "longer than timeout"),
    ],
    ids=["endless-answer", "dripping-answer"],
)
def test_a_hostile_hub_answer_is_cut_off_by_size_and_by_time(
    make_gateway: Any, hub_app: _HostileHub, error: type[Exception], match: str
) -> None:
    server = ThreadServer(hub_app).start()
    discovery = HubDiscovery(make_gateway(), server.url, "search", timeout=1.0)
    try:
        with pytest.raises(error, match=match):
            discovery.refresh()
        # Cut off long before the hub was done (it sends 64 MiB or drips, for 10 s or more).
        assert hub_app.sent < hub_app.chunks
    finally:
        hub_app.stopped = True
        discovery.stop()
        server.stop()


def test_credentials_in_the_hub_url_appear_in_no_error(
    make_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def refusing(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"no"})

    server = ThreadServer(refusing).start()
    closed = f"http://user:pw-SECRET@127.0.0.1:{free_port()}"
    answering = server.url.replace("http://", "http://user:pw-SECRET@")
    try:
        for hub_url in (closed, answering):
            discovery = HubDiscovery(make_gateway(), hub_url, "search", timeout=2.0)
            try:
                with pytest.raises(ConnectionError) as caught:
                    discovery.refresh()
                assert "pw-SECRET" not in str(caught.value)
                assert "127.0.0.1" in str(caught.value)
            finally:
                discovery.stop()
        with pytest.raises(InvalidValueError, match="hub_url") as refused:
            HubDiscovery(make_gateway(), "ftp://user:pw-SECRET@hub", "search")
        assert "pw-SECRET" not in str(refused.value)
    finally:
        server.stop()
    assert "pw-SECRET" not in caplog.text


class _ScriptedHub:
    """A hub whose ``/agents`` answer is whatever endpoints the test sets in ``now``."""

    def __init__(self, *endpoints: str) -> None:
        self.now = list(endpoints)
        self.transport = httpx.MockTransport(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        agents = [
            {"agent_id": f"a{i}", "status": "online", "endpoint": e} for i, e in enumerate(self.now)
        ]
        return httpx.Response(200, stream=httpx.ByteStream(json.dumps(agents).encode()))


def test_a_hub_that_loses_its_agents_leaves_the_services_keys_and_limit_in_force(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    """One empty refresh (hub restarted) must not reopen a keyed, limited service."""
    gateway = make_gateway()
    gateway.register_service(
        "search", "search", "v1", upstream.url, path_prefix="/users", api_keys=["the-key"]
    )
    hub = _ScriptedHub(upstream.url)
    discovery = HubDiscovery(
        gateway, "http://hub.invalid", "search", path_prefix="/users", transport=hub.transport
    )
    key = {"X-API-Key": "the-key"}
    try:
        discovery.refresh()
        gateway.set_rate_limit("search", 1, 2)  # one token for the 503, one for the 200
        assert gateway.route_request("GET", "/v1/users/7").status_code == 401

        hub.now = []
        assert discovery.refresh() == ()
        (service,) = gateway.list_services()  # still registered, with no instance
        assert service["instances"] == []
        assert gateway.route_request("GET", "/v1/users/7", key).status_code == 503
        assert gateway.route_request("GET", "/v1/users/7").status_code == 401

        hub.now = [upstream.url]
        discovery.refresh()
        assert gateway.route_request("GET", "/v1/users/7").status_code == 401
        assert gateway.route_request("GET", "/v1/users/7", key).status_code == 200
        assert gateway.route_request("GET", "/v1/users/7", key).status_code == 429
        assert gateway.list_services()[0]["rate_limit"]["requests_per_minute"] == 1
    finally:
        discovery.stop()


def test_a_change_in_the_agents_keeps_the_health_state_of_the_instances_that_stay(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway()
    hub = _ScriptedHub(upstream.url)
    discovery = HubDiscovery(gateway, "http://hub.invalid", "search", transport=hub.transport)
    other = f"http://127.0.0.1:{free_port()}"
    try:
        discovery.refresh()
        (kept,) = gateway._services["search"].instances
        kept.healthy = False  # as the health policy takes it out of rotation
        hub.now = [upstream.url, other]
        discovery.refresh()
        instances = {i["base_url"]: i["healthy"] for i in gateway.list_services()[0]["instances"]}
        assert instances == {upstream.url: False, other: True}
        assert kept in gateway._services["search"].instances  # the same object, as it was
    finally:
        discovery.stop()


def test_set_instances_checks_every_url_first_and_gives_new_ones_the_health_path(
    make_gateway: Any,
) -> None:
    from otel_agents.gateway._errors import InvalidServiceError, ServiceNotFoundError

    gateway = make_gateway()
    gateway.register_service("s", "s", "v1", "http://127.0.0.1:8001", "/health")
    with pytest.raises(InvalidServiceError, match="base_url"):
        gateway.set_instances("s", ["http://127.0.0.1:8002", "ftp://127.0.0.1"])
    assert [i.url.port for i in gateway._services["s"].instances] == [8001]
    with pytest.raises(ServiceNotFoundError):
        gateway.set_instances("nope", [])
    gateway.set_instances("s", ["http://127.0.0.1:8001", "http://127.0.0.1:8002"])
    assert [i.health_url.display() for i in gateway._services["s"].instances] == [
        "http://127.0.0.1:8001/health",
        "http://127.0.0.1:8002/health",
    ]


def test_credentials_in_the_hub_url_go_as_basic_auth_and_in_no_info_log_line(
    make_gateway: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx logs each request's URL at INFO: the userinfo must not be in that URL."""
    monkeypatch.delenv(HUB_TOKEN_ENV, raising=False)
    seen: list[bytes] = []

    async def hub_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(dict(scope["headers"]).get(b"authorization", b""))
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": b"[]"})

    server = ThreadServer(hub_app).start()
    hub_url = server.url.replace("http://", "http://us%40er:pw-SECRET@")
    discovery = HubDiscovery(make_gateway(), hub_url, "search", timeout=2.0)
    try:
        caplog.set_level(logging.INFO)
        discovery.refresh()
    finally:
        discovery.stop()
        server.stop()
    assert seen == [b"Basic " + base64.b64encode(b"us@er:pw-SECRET")]
    assert any(record.name == "httpx" for record in caplog.records)
    assert not [r.getMessage() for r in caplog.records if "pw-SECRET" in r.getMessage()]
    assert "pw-SECRET" not in caplog.text
