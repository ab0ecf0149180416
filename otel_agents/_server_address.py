"""``server.address`` and ``server.port`` of an HTTP server span, from the request's ``Host``.

The stable HTTP conventions ("Setting ``server.address`` and ``server.port`` attributes")
ask a server for "the original hostname and port", the same on the client and the server
side, taken from the ``Host`` header (``:authority`` in HTTP/2, which ASGI servers pass as
``host``) and parsed into the two attributes: ``api.example.com:8443`` is the address
``api.example.com`` and the port ``8443``, never an address with a port in it. The socket the
server is bound to is the fallback when there is no ``Host``.

The header is whatever the client sent, so the result is bounded: a port that is not 1-65535
in ASCII digits (``hub:²`` passes ``str.isdigit`` and fails ``int``; 30 digits fail OTLP's
int64) is not a port and the scheme's default is recorded, and an address is cut at 255
characters. Used by the gateway (both its server telemetries) and by the messaging hub and
inboxes, so all of them agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import Scope

__all__ = ["MAX_HOST", "host_header", "parse_host", "server_address"]

#: The longest ``server.address`` recorded (a DNS name is at most 253 characters).
MAX_HOST = 255


def server_address(scope: Scope) -> tuple[str, int]:
    """``server.address`` and ``server.port`` of the request in ``scope``: its ``Host``
    header, else the bound socket. Never raises."""
    host = host_header(scope)
    if host:
        return parse_host(host, scope.get("scheme"))
    default_port = 443 if scope.get("scheme") == "https" else 80
    server = scope.get("server")
    if server:
        port = server[1]
        if type(port) is not int:  # ASGI servers give an int; anything else only if a port
            port = int(port) if isinstance(port, str) and _is_port(port) else default_port
        return str(server[0])[:MAX_HOST], port
    return "", default_port


def parse_host(host: str, scheme: str | None) -> tuple[str, int]:
    """A ``Host`` value as (address, port): the port after the last ``:`` if it is one (not
    inside IPv6 brackets), else the default port of ``scheme``. An empty port (``host:``)
    is the default one, and its ``:`` is no part of the name (RFC 3986 section 3.2.3)."""
    default_port = 443 if scheme == "https" else 80
    name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if ":" in name and not (name.startswith("[") and name.endswith("]")):
        # ``::1``: an IPv6 address without its brackets, whose last group is no port
        return host[:MAX_HOST], default_port
    if name and _is_port(port):
        return name[:MAX_HOST], int(port)
    if name and not port:
        return name[:MAX_HOST], default_port
    return host[:MAX_HOST], default_port


def host_header(scope: Scope) -> str | None:
    """The first ``Host`` header of ``scope``, decoded as latin-1."""
    for name, value in scope.get("headers") or ():
        if name == b"host":
            return bytes(value).decode("latin-1")
    return None


def _is_port(text: str) -> bool:
    """Whether ``text`` is a TCP port: 1-5 ASCII digits, 1 to 65535."""
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit() and 0 < int(text) <= 65535
