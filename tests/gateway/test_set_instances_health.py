"""Instances that join a service later never inherit another host's absolute health URL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import ThreadServer, free_port


def _health_urls(gateway: Any) -> list[str]:
    return [i.health_url.display() for i in gateway._services["s"].instances]


def test_a_new_instance_is_checked_at_the_health_urls_path_on_its_own_host(
    make_gateway: Any,
) -> None:
    gateway = make_gateway()
    gateway.register_service("s", "s", "v1", "http://a.example:8001", "http://a.example:8001/hz")
    gateway.set_instances("s", ["http://b.example:8002/base"])
    assert _health_urls(gateway) == ["http://b.example:8002/hz"]


def test_an_instance_on_the_health_urls_own_host_keeps_it_and_several_are_allowed(
    make_gateway: Any,
) -> None:
    gateway = make_gateway()
    gateway.register_service("s", "s", "v1", "http://c.example:1", "https://u:p@a.example/hz")
    gateway.set_instances("s", ["https://a.example", "http://b.example:8002"])
    assert _health_urls(gateway) == [
        "https://REDACTED:REDACTED@a.example/hz",  # the very URL, credentials included
        "http://b.example:8002/hz",
    ]


def test_a_health_path_still_joins_each_new_base_url(make_gateway: Any) -> None:
    gateway = make_gateway()
    gateway.register_service("s", "s", "v1", "http://a.example:8001/api", "/health")
    gateway.set_instances("s", ["http://b.example:8002/api"])
    assert _health_urls(gateway) == ["http://b.example:8002/api/health"]


@pytest.mark.integration
def test_a_moved_instance_is_kept_in_rotation_by_its_own_health_not_the_old_hosts(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    """A (nothing listening) registered with its full health URL; set_instances moves the
    service to B (healthy): B's rotation must follow B's /health, not A's."""
    old = f"http://127.0.0.1:{free_port()}"
    gateway = make_gateway({"unhealthy_threshold": 2})
    gateway.register_service("s", "s", "v1", old, f"{old}/health", path_prefix="/users")
    gateway.set_instances("s", [upstream.url])

    async def rounds() -> None:
        for _ in range(3):
            await gateway.checker.check_once()
        await gateway.checker.stop()

    asyncio.run(rounds())
    (instance,) = gateway._services["s"].instances
    assert instance.healthy is True
    assert gateway.route_request("GET", "/v1/users/7").status_code == 200
