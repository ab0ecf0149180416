"""Which upstream addresses the admin API refuses: link-local and cloud metadata endpoints.

Whoever holds the admin token can register an upstream, and the gateway then fetches from
it on request: pointed at a cloud metadata service (``169.254.169.254`` and friends), that
is a way to read instance credentials through the gateway (server-side request forgery).
So the admin API refuses upstreams whose host is

* a link-local address: ``169.254.0.0/16``, ``fe80::/10`` (IPv4-mapped forms included),
* a known metadata address: ``fd00:ec2::254`` (AWS IPv6), ``100.100.100.200`` (Alibaba),
* a legacy IPv4 spelling of those that the resolver still accepts (``2852039166``,
  ``0xa9fea9fe``, ``0251.0376.0251.0376``),
* a well-known metadata host name (``metadata.google.internal``, ``instance-data``, ...),
* or a name that resolves to any of the above at registration time,

unless ``allow_link_local_upstreams`` is set. Services in the config file or registered
from Python are the operator's own and are not checked. A name that resolves elsewhere at
registration and to a metadata address later (DNS rebinding) is caught at connect:
upstreams from the admin API and discovery are resolved again, and checked with
:func:`any_forbidden`, each time the gateway opens a connection (``_connect_check``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable

from otel_agents._hostnames import METADATA_HOSTS, METADATA_NETWORKS, ascii_host

__all__ = [
    "any_forbidden",
    "forbidden_address",
    "forbidden_host",
    "is_literal",
    "literal_address",
    "resolves_to_forbidden",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NETWORKS = METADATA_NETWORKS
_HOSTS = METADATA_HOSTS
#: Numbers, hex and dots only: what ``inet_aton`` may read as a legacy IPv4 address.
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)
_RESOLVE_TIMEOUT = 2.0


def forbidden_address(address: IPAddress) -> bool:
    """Whether ``address`` is link-local or a known metadata address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _NETWORKS)


def forbidden_host(host: str) -> bool:
    """Whether an upstream ``host`` (a name or an address literal) is refused."""
    name = ascii_host(host.strip()).rstrip(".")
    if name in _HOSTS:
        return True
    address = _literal(name)
    return address is not None and forbidden_address(address)


async def resolves_to_forbidden(host: str, port: int) -> bool:
    """Whether the name ``host`` resolves (now) to a refused address; ``False`` when it
    does not resolve in time (the upstream may come up later)."""
    if _literal(ascii_host(host.strip()).rstrip(".")) is not None:
        return False  # a literal was checked by forbidden_host
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(_RESOLVE_TIMEOUT):
            found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError):
        return False
    return any_forbidden(str(sockaddr[0]) for *_, sockaddr in found)


def any_forbidden(addresses: Iterable[str]) -> bool:
    """Whether any of the resolved ``addresses`` (text, maybe with an IPv6 zone) is refused."""
    for text in addresses:
        try:
            if forbidden_address(ipaddress.ip_address(text.split("%", 1)[0])):
                return True
        except ValueError:
            continue
    return False


def is_literal(host: str) -> bool:
    """Whether ``host`` is an address literal (checked by :func:`forbidden_host` alone)."""
    return _literal(ascii_host(host.strip()).rstrip(".")) is not None


def literal_address(host: str) -> str | None:
    """The address a literal ``host`` stands for, as the resolver reads it without a
    lookup (``127.0.0.1.`` and ``0x7f.1`` are ``127.0.0.1``); ``None`` for a name. Connect
    to this, never to ``host`` as written: ``127.0.0.1.`` with its dot is a DNS query."""
    address = _literal(ascii_host(host.strip()).rstrip("."))
    return None if address is None else str(address)


def _literal(name: str) -> IPAddress | None:
    try:
        # An IPv6 zone id (fe80::1%eth0) is parsed with its address; any other '%' makes a
        # name (127.0.0.1%x.example is one, whatever it starts with).
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(name):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None
