"""Host names the resolver cannot even encode: refused at registration, skipped by
discovery, and a 502 plus a health failure if one gets into an instance anyway."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest

from otel_agents.gateway._client import UpstreamClient, encode_head
from otel_agents.gateway._discovery import HubDiscovery
from otel_agents.gateway._errors import InvalidServiceError, UpstreamConnectError
from otel_agents.gateway._health import ActiveHealthChecker, HealthPolicy
from otel_agents.gateway._registry import Instance, Service, UpstreamURL, parse_upstream_url

#: A label over 63 characters (idna refuses it), an empty label, a NUL.
BAD_HOSTS = ["a" * 64 + ".example", "a..b", "a\x00b"]


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_an_upstream_url_whose_host_cannot_be_encoded_is_refused_naming_the_host(
    host: str,
) -> None:
    with pytest.raises(InvalidServiceError, match="host name") as refused:
        parse_upstream_url("base_url", f"http://{host}:8000")
    assert repr(host)[:40] in str(refused.value)


def test_valid_names_addresses_and_international_names_are_still_accepted() -> None:
    for url in ("http://a.example.", "http://[::1]:80", "http://b\u00fccher.example"):
        parse_upstream_url("base_url", url)


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_connecting_to_an_unencodable_host_is_an_upstream_connect_error(host: str) -> None:
    """Not the resolver's UnicodeError/ValueError: that escaped as a 500 and was never
    counted against the instance."""
    client = UpstreamClient(connect_timeout=5, read_timeout=5)

    async def main() -> None:
        head = encode_head("GET", "/", [(b"host", b"x")])
        with pytest.raises(UpstreamConnectError):
            await client.request(host, 8000, head, b"")
        await client.aclose()

    asyncio.run(main())


def test_a_request_to_an_instance_with_an_unencodable_host_is_a_502(make_gateway: Any) -> None:
    gateway = make_gateway({"unhealthy_threshold": 2})
    gateway.register_service("s", "s", "v1", "http://127.0.0.1:9", path_prefix="/s")
    (instance,) = gateway._services["s"].instances
    instance.url = UpstreamURL("http", "a" * 64 + ".example", 8000, "")  # as before the check
    assert gateway.route_request("GET", "/v1/s/x").status_code == 502
    assert gateway.route_request("GET", "/v1/s/x").status_code == 502
    assert instance.healthy is False  # the passive checks counted both


class _Checker(ActiveHealthChecker):
    """Probes raise an unexpected error for ``broken`` and succeed for the others."""

    broken: Instance

    async def _probe(self, instance: Instance) -> bool:
        if instance is self.broken:
            raise RuntimeError("a bug nobody foresaw")
        return True


def _instance(host: str) -> Instance:
    url = UpstreamURL("http", host, 8000, "")
    return Instance(url, UpstreamURL("http", host, 8000, "/health"))


def test_an_unresolvable_health_url_fails_its_checks_and_takes_the_instance_out() -> None:
    bad = _instance("a" * 64 + ".example")
    service = Service("s", "s", "v1", "", [bad], {})
    policy = HealthPolicy(unhealthy_threshold=3)
    checker = ActiveHealthChecker(lambda: [service], policy, interval=60, timeout=5)

    async def rounds() -> None:
        for _ in range(3):
            await checker.check_once()  # returns: no exception escapes the round
        await checker.stop()

    asyncio.run(rounds())
    assert bad.healthy is False


def test_one_instances_unexpected_exception_neither_fails_the_round_nor_spares_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken, other = _instance("broken.example"), _instance("other.example")
    other.healthy = False  # comes back only if its checks are counted
    service = Service("s", "s", "v1", "", [broken, other], {})
    policy = HealthPolicy(unhealthy_threshold=2, healthy_threshold=2)
    checker = _Checker(lambda: [service], policy, interval=60, timeout=5)
    checker.broken = broken

    async def rounds() -> None:
        for _ in range(2):
            await checker.check_once()

    with caplog.at_level(logging.WARNING, logger="otel_agents.gateway"):
        asyncio.run(rounds())
    assert broken.healthy is False
    assert other.healthy is True
    logged = [r for r in caplog.records if "failed unexpectedly" in r.getMessage()]
    assert len(logged) == 1  # once per instance, not once per round


def test_discovery_skips_an_agent_whose_endpoint_host_cannot_be_encoded(
    make_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    answer = [
        {"agent_id": "bad", "status": "online", "endpoint": f"http://{'a' * 64}.example:8000"},
        {"agent_id": "dots", "status": "online", "endpoint": "http://a..b:8000"},
        {"agent_id": "good", "status": "online", "endpoint": "http://127.0.0.1:9"},
    ]
    hub = httpx.MockTransport(
        lambda request: httpx.Response(200, stream=httpx.ByteStream(json.dumps(answer).encode()))
    )
    gateway = make_gateway()
    discovery = HubDiscovery(gateway, "http://hub.invalid", "agents", transport=hub)
    try:
        with caplog.at_level(logging.WARNING):
            assert discovery.refresh() == ("http://127.0.0.1:9",)
            assert discovery.refresh() == ("http://127.0.0.1:9",)
    finally:
        discovery.stop()
    skipped = [r.getMessage() for r in caplog.records if "skipped agent" in r.getMessage()]
    assert len(skipped) == 2  # one line per bad agent, not one per refresh
    assert any("'bad'" in line for line in skipped)
    assert any("'dots'" in line for line in skipped)
