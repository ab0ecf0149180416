"""Which inbox URLs the hub accepts from agents that register over HTTP.

The hub POSTs envelopes to whatever endpoint an agent registered, so an unchecked endpoint
turns the hub into a relay towards addresses only it can reach (server-side request
forgery): a cloud metadata service, a link-local device. An endpoint must be an ``http`` or
``https`` URL without spaces or control characters (they would come back in every refusal
of a message sent to it), user info, query or fragment. Its host must be a name the
resolver can take (no empty label, none over 63 characters: the gateway's rule, shared in
``otel_agents._hostnames``, since the gateway's discovery skips any other), and must not
be a link-local or metadata address (``169.254.0.0/16``, ``fe80::/10``, ``fd00:ec2::254``,
``100.100.100.200``, the well-known metadata host names: the gateway's list,
``otel_agents._hostnames``) or a wildcard address (``0.0.0.0``, ``::``: an agent
that listens on all interfaces must register the URL others reach it at), unless it lies
in one of ``allowed_endpoint_networks``.

IP literals are checked in every spelling the resolver accepts (``2852039166``,
``0xa9.0xfe.0xa9.0xfe``, ``::ffff:169.254.169.254``). Host names are not resolved here (an
agent may register before its name resolves): a name that resolves to a refused address
is not caught, so networks where that matters should also filter egress.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from otel_agents._errors import ConfigurationError
from otel_agents._hostnames import (
    HOST_NAME_RULE,
    METADATA_HOSTS,
    METADATA_NETWORKS,
    ascii_host,
    resolvable_host,
)
from otel_agents.messaging._errors import InvalidMessageError

__all__ = ["BLOCKED_NETWORKS", "check_endpoint", "parse_networks"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Refused unless allowed by ``allowed_endpoint_networks``.
BLOCKED_NETWORKS: tuple[IPNetwork, ...] = (
    *METADATA_NETWORKS,  # the gateway's list: link-local, cloud metadata services
    ipaddress.ip_network("0.0.0.0/8"),  # "this network": reaches the hub's own host
)


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``allowed_endpoint_networks`` as networks; a bad one is a ConfigurationError."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ConfigurationError(
                f"allowed_endpoint_networks entry {value!r} is not valid: expected a CIDR "
                "network such as '169.254.0.0/16'"
            ) from None
    return tuple(networks)


def _address(host: str) -> IPAddress | None:
    """The IP address ``host`` spells, in any form the resolver would accept, or ``None``."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        try:  # inet_aton takes the legacy forms: 2852039166, 0xa9fea9fe, 169.254.43518
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def check_endpoint(endpoint: str, allowed: Iterable[IPNetwork] = (), name: str = "endpoint") -> str:
    """Return ``endpoint`` if the hub may deliver to it; raise InvalidMessageError if not.

    ``name`` is what the error calls the value: the registration field, or the command-line
    option it came from (``--endpoint``), so the message points at what to fix.
    """

    def refuse(why: str) -> InvalidMessageError:
        return InvalidMessageError(
            f"{name}={endpoint[:200]!r} is not valid: {why} (an agent's inbox URL such as "
            "'http://agent-a:8101')"
        )

    if not endpoint.isprintable() or " " in endpoint:
        # Shown in errors and log lines, and in every refusal of a message sent to it.
        raise refuse("it holds spaces or control characters (percent-encode them)")
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        raise refuse("it is not a URL") from None
    if parts.scheme not in ("http", "https"):
        raise refuse("the scheme must be http or https")
    if "@" in parts.netloc:
        raise refuse("user info (user:password@) is not allowed")
    if parts.query or parts.fragment or "?" in endpoint or "#" in endpoint:
        raise refuse("a query or fragment is not allowed")
    if not host:
        raise refuse("it has no host")
    if not resolvable_host(host):
        # The gateway's rule (one function): its discovery would skip this agent later.
        raise refuse(f"its host is {HOST_NAME_RULE}")
    # What the hub's client will connect to: 169\u3002254\u3002169\u3002254 is 169.254.169.254.
    # Without the root's final dot, as the gateway reads it: 169.254.169.254. is that
    # address (for the gateway's check), not a name to pass (it was, here).
    host = ascii_host(host).rstrip(".")
    if host in METADATA_HOSTS:
        raise refuse(f"{host} is a cloud metadata service")
    address = _address(host)
    if address is not None and not any(address in network for network in allowed):
        if address.is_unspecified:  # what an agent serving on all interfaces would register
            raise refuse(
                f"{address} is a wildcard address (listen on all interfaces), which no one "
                "can deliver to: the agent must register a URL others reach it at "
                "(otel-agents agent --endpoint http://<its host>:<port>)"
            )
        if any(address in network for network in BLOCKED_NETWORKS):
            raise refuse(
                f"{address} is a link-local or metadata address; allow its network with "
                "allowed_endpoint_networks (otel-agents hub --allow-endpoint-network) if you "
                "really mean it"
            )
    return endpoint
