"""Which host names can be handed to the resolver at all: one rule for the gateway and hub.

``getaddrinfo`` encodes a name with the ``idna`` codec before it asks anything, and that
codec refuses an empty label (``a..b``, ``.a``) and a label over 63 characters; a NUL or
another control character ends or corrupts the name on its way to the C resolver. A host
like that can never be reached: an upstream registered with one fails every request and
every health check, and an agent endpoint with one is skipped by the gateway's discovery
(and every message the hub sends to it fails). So both refuse it where it comes in, with
the same words: the gateway's service registration (``gateway._registry``) and the hub's
agent registration (``messaging._endpoints``).

Address literals pass (``::1`` is one label of ASCII; ``127.0.0.1`` four), as do
international names (``bücher.example``: the codec makes them ``xn--`` labels) and a final
dot (``a.example.``: the root).

The cloud metadata endpoints both refuse are here too (:data:`METADATA_NETWORKS`,
:data:`METADATA_HOSTS`), one list: the hub kept a shorter copy of its own, and accepted
agent endpoints at ``100.100.100.200`` (Alibaba) and ``instance-data`` (AWS) that the
gateway refuses, so the hub relayed messages to them.
"""

from __future__ import annotations

import ipaddress

__all__ = [
    "HOST_NAME_RULE",
    "METADATA_HOSTS",
    "METADATA_NETWORKS",
    "ascii_host",
    "resolvable_host",
]

#: Link-local and cloud metadata networks: no upstream nor agent endpoint may be in them.
METADATA_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),  # IPv4 link-local: AWS, GCP, Azure, ... metadata
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
)
#: Well-known metadata service names (lower case, without the root's final dot).
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)

#: Why a host failed :func:`resolvable_host`, for error messages ("... is not valid: " +).
HOST_NAME_RULE = (
    "not a valid DNS name (empty label, a label over 63 characters, or a control character)"
)


def resolvable_host(host: str) -> bool:
    """Whether ``host`` (a name or an address literal, without brackets or port) can be
    looked up: no control character, space or DEL, and every label 1 to 63 characters
    once ``idna``-encoded."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in host):
        return False
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def ascii_host(host: str) -> str:
    """``host`` as a client will connect to it: ``idna``-encoded (full-width and
    ideographic dots are dots to every IDNA encoder, httpx's included, so
    ``169\u3002254\u3002169\u3002254`` is ``169.254.169.254``), lower case. Check this, not
    the text as written. ``host`` unchanged when the codec refuses it (see
    :func:`resolvable_host`)."""
    if host.isascii():
        return host.lower()
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host
