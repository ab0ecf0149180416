"""Bad arguments of the connect check's parts fail where they are given, naming the
parameter, the value and what to pass; they used to be accepted and fail at the first
checked connection (an ``AttributeError`` out of ``route_request``, a ``TypeError`` from
``asyncio.timeout``) or to mean something else (``checked="no"`` is true)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from otel_agents._errors import InvalidTypeError, InvalidValueError
from otel_agents.gateway import InvalidServiceError
from otel_agents.gateway._connect_check import ConnectCheck
from otel_agents.gateway._discovery import HubDiscovery
from otel_agents.gateway._resolver import ResolverPool
from otel_agents.gateway._specs import ServiceSpec


def test_a_resolver_function_given_where_a_pool_belongs_is_refused_with_the_fix(
    make_gateway: Any,
) -> None:
    with pytest.raises(InvalidTypeError, match=r"upstream_resolver=.*ResolverPool\(getaddrinfo\)"):
        make_gateway(upstream_resolver=socket.getaddrinfo)
    with pytest.raises(InvalidTypeError, match=r"resolver=.*ResolverPool\(getaddrinfo\)"):
        ConnectCheck(socket.getaddrinfo)  # type: ignore[arg-type]
    gateway = make_gateway()
    with pytest.raises(InvalidTypeError, match=r"resolver=.*ResolverPool\(getaddrinfo\)"):
        HubDiscovery(gateway, "http://hub.invalid", "agents", resolver=socket.getaddrinfo)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"getaddrinfo": "socket.getaddrinfo"}, "getaddrinfo"),
        ({"max_threads": 0}, "max_threads"),
        ({"max_threads": True}, "max_threads"),
        ({"max_threads": 2.5}, "max_threads"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": "2"}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"idle_timeout": -1}, "idle_timeout"),
    ],
)
def test_resolver_pool_settings_are_checked_where_they_are_given(
    options: dict[str, Any], parameter: str
) -> None:
    """``max_threads=0`` left every checked connection waiting for a thread that could
    never start (a 504 each), ``timeout="2"`` failed inside ``asyncio.timeout`` later."""
    with pytest.raises((InvalidTypeError, InvalidValueError), match=rf"^{parameter}="):
        ResolverPool(**options)


@pytest.mark.parametrize("checked", ["no", None, 1])
def test_checked_must_be_a_boolean(make_gateway: Any, checked: Any) -> None:
    """``checked="no"`` was true and ``checked=None`` false, silently."""
    gateway = make_gateway()
    spec = ServiceSpec.build("s", "s", "v1", "http://a.example:80", None, {})
    with pytest.raises(InvalidServiceError, match=r"^checked="):
        gateway.register(spec, checked=checked)
    gateway.register(spec)
    with pytest.raises(InvalidServiceError, match=r"^checked="):
        gateway.set_instances("s", ["http://b.example:80"], checked=checked)
    assert [i.url.host for i in gateway._services["s"].instances] == ["a.example"]
