"""Who the client is behind proxies: which peers may speak for it, and its address.

``X-Forwarded-For`` counts only from a peer in ``trusted_proxies``; the client is then the
right-most hop that is not a trusted proxy. Hops are parsed strictly as IP addresses (a
port and IPv6 brackets dropped, as some load balancers write them), so one client is one
address whatever its source port; a hop that is not an address ends the walk at the peer.
The address is what a per-client rate limit counts (see ``_ratelimit.client_key`` for
IPv6 networks), what hooks see as ``client_ip`` and what the history records.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["ForwardedPolicy", "hop_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ForwardedPolicy:
    """Which peers may set ``X-Forwarded-*``, and the client address that follows."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.networks = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def trusted(self, address: str) -> bool:
        if not self.networks:
            return False
        ip = hop_address(address)
        return ip is not None and self._trusted(ip)

    def _trusted(self, ip: IPAddress) -> bool:
        return any(ip in network for network in self.networks)

    def client_ip(self, peer: str, forwarded_for: bytes | None) -> str:
        """The client address: the peer, or behind trusted proxies the first untrusted hop.

        Each hop is parsed strictly as an IP address (a port and IPv6 brackets dropped:
        ``203.0.113.7:40000``, ``[2001:db8::1]:443``; an IPv4-mapped IPv6 address as its
        IPv4 one), so one client is one address whatever source port a proxy wrote, and a
        trusted proxy is recognised with or without a port. A hop that is not an address
        (``unknown``, an obfuscated RFC 7239 name, an empty hop) ends the walk: nothing
        before it can be believed, and the peer is used. The peer is normalised like a
        hop: an IPv4 client of a dual-stack listener (``::ffff:203.0.113.7``) is
        ``203.0.113.7``, the same client it is on an IPv4 listener.
        """
        peer = _normalised(peer)
        if forwarded_for is None or not self.trusted(peer):
            return peer
        for hop in reversed(forwarded_for.decode("latin-1").split(",")):
            ip = hop_address(hop)
            if ip is None:
                return peer
            if not self._trusted(ip):
                return str(ip)
        return peer


def hop_address(text: str) -> IPAddress | None:
    """The IP address of one forwarding hop (``ip``, ``ip:port``, ``[ipv6]``,
    ``[ipv6]:port``), or ``None`` when it is anything else."""
    text = text.strip()
    if text.startswith("["):
        inner, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not _port(rest)):
            return None
        text = inner
    elif text.count(":") == 1:  # IPv4 with a port; IPv6 has two colons at least
        text, _, port = text.partition(":")
        if not _port(":" + port):
            return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _normalised(peer: str) -> str:
    """The peer's address as a hop would be read (IPv4-mapped as IPv4); the peer as it is
    when it is not an address (a Unix socket's, a test's name)."""
    if ":" not in peer:  # an IPv4 peer (the common case) is already as a hop reads it
        return peer
    ip = hop_address(peer)
    return peer if ip is None else str(ip)


def _port(text: str) -> bool:
    """Whether ``text`` is ``:`` and a port number."""
    digits = text[1:]
    return text[:1] == ":" and 0 < len(digits) <= 5 and digits.isascii() and digits.isdigit()
