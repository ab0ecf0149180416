"""Connect-time address checks: a checked upstream is reached only at addresses checked now.

The admin API and hub discovery refuse an upstream whose host is, or resolves to, a
link-local or cloud metadata address (``_addresses``), but that is the name's answer at
registration or refresh. Connecting by name, the client would ask the resolver again, and a
name that answered a public address then and ``169.254.169.254`` now (DNS rebinding, a TTL
of 0) would reach the metadata endpoint. So for an upstream from those paths
(``Instance.checked``) the client resolves the name itself each time it opens a
connection, on the gateway's :class:`~._resolver.ResolverPool` (bounded threads, answers
within its ``timeout``), refuses when *any* address is forbidden (which of them a
connection would get is the resolver's, so the attacker's, choice), and connects to the
addresses it checked, never to the name again. ``Host`` stays the name (the proxy writes it
from the URL) and TLS verifies the certificate for the name (``server_hostname``).

A refusal is :class:`~._errors.UpstreamForbiddenAddressError` (``error.type``
``forbidden_address``): a 502 that names no address, a failure of the instance's health,
and one warning per host name, not per request. A name that does not resolve is a connect
error, one not answered in time (a wait for a busy resolver thread included: busy is not
stuck, so a burst of connections waits for them) a timeout: an unknown answer never
connects.

Literal addresses were checked at registration and are reached at the address they spell
(``127.0.0.1.``, written with the root's dot, would be a DNS query for a name). Services
from the config file or Python are the operator's own and are not checked: their client has no
:class:`ConnectCheck` and connects by name as before; all their requests pay is the read of
``Instance.checked`` that picks the client.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, NoReturn

from otel_agents._errors import invalid_type
from otel_agents._logs import redacting_logger
from otel_agents._runtime import BoundedCache
from otel_agents._version import scope_name
from otel_agents.gateway._addresses import any_forbidden, forbidden_host, literal_address
from otel_agents.gateway._errors import (
    UpstreamConnectError,
    UpstreamForbiddenAddressError,
    UpstreamTimeoutError,
)
from otel_agents.gateway._resolver import NoResolverThread, ResolverPool

__all__ = ["ConnectCheck", "checked_resolver"]

_logger = redacting_logger(scope_name(__name__))
#: Distinct host names remembered as already warned about (then the oldest is forgotten).
_MAX_WARNED = 1024

#: Distinct host names whose kind (below) is remembered.
_MAX_KINDS = 4096
#: A host's kind: refused as it is, or a name to resolve (else: the literal's address).
_FORBIDDEN, _NAME = "forbidden", "name"

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def checked_resolver(parameter: str, resolver: Any) -> ResolverPool:
    """``resolver`` when it is a :class:`ResolverPool`; else an error naming ``parameter``
    and the fix (a resolver function is the likely mistake: it fails only at the first
    checked connection otherwise, out of every request as an ``AttributeError``)."""
    if not isinstance(resolver, ResolverPool):
        raise invalid_type(
            parameter,
            resolver,
            "a ResolverPool (wrap a resolver function as ResolverPool(getaddrinfo))",
        )
    return resolver


def _kind(host: str) -> str:
    if forbidden_host(host):
        return _FORBIDDEN
    return literal_address(host) or _NAME


class ConnectCheck:
    """Resolves a checked upstream's name at connect and refuses forbidden answers.

    Args:
        resolver: the pool the names are resolved on (its ``timeout`` bounds each answer).
    """

    def __init__(self, resolver: ResolverPool) -> None:
        self.resolver = checked_resolver("resolver", resolver)
        self._warned: BoundedCache[str, bool] = BoundedCache(_MAX_WARNED)
        #: What each host is, whatever it resolves to (parsing it costs more than a lookup).
        self._kinds: BoundedCache[str, str] = BoundedCache(_MAX_KINDS)

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``, each checked; a literal's address
        (``127.0.0.1.``, with its dot, is ``127.0.0.1``: never handed to a resolver).

        Raises:
            UpstreamForbiddenAddressError: ``host`` is, or resolves to, a forbidden address.
            UpstreamConnectError: ``host`` does not resolve.
            UpstreamTimeoutError: no answer within the resolver's timeout (a wait for a
                free resolver thread included), or no room left to wait.
        """
        kind = self._kinds.get(host)
        if kind is None:
            kind = self._kinds.put(host, _kind(host))
        if kind is _FORBIDDEN:  # a metadata host name, or a forbidden literal
            self._refuse(host, [])
        if kind is not _NAME:  # a literal: its address, never the text a resolver may look up
            return [kind]
        try:
            found = await self.resolver.lookup(host, port)
        except TimeoutError:
            raise UpstreamTimeoutError("resolving the upstream's host name timed out") from None
        except NoResolverThread:
            # Every thread busy and MAX_QUEUED names waiting: as good as a timeout (not
            # pool_exhausted, whose alert speaks of the upstream's connections).
            raise UpstreamTimeoutError(
                "no resolver thread was free to check the upstream's host name"
            ) from None
        if not found:
            raise UpstreamConnectError("could not resolve the upstream's host name")
        if any_forbidden(found):
            self._refuse(host, found)
        return list(dict.fromkeys(found))

    async def connect(
        self, host: str, port: int, *, limit: int, ssl_context: ssl.SSLContext | None
    ) -> Streams:
        """A connection to one of ``host``'s checked addresses, tried in the resolver's
        order; TLS (when ``ssl_context``) verifies the certificate for ``host``. The
        caller bounds the whole in time."""
        failure: OSError | None = None
        for address in await self.addresses(host, port):
            try:
                return await asyncio.open_connection(
                    address,
                    port,
                    limit=limit,
                    ssl=ssl_context,
                    server_hostname=host if ssl_context is not None else None,
                )
            except OSError as exc:
                failure = exc
        raise UpstreamConnectError("could not connect to the upstream") from failure

    def _refuse(self, host: str, addresses: list[str]) -> NoReturn:
        shown = host[:255]
        if shown not in self._warned:
            self._warned.put(shown, True)
            forbidden = [a for a in dict.fromkeys(addresses) if any_forbidden([a])]
            _logger.warning(
                "gateway: refused to connect to upstream host %r (registered through the "
                "admin API or hub discovery): it now resolves to a link-local or cloud "
                "metadata address%s, as in DNS rebinding; each new connection to it is "
                "refused (logged once per host)",
                shown,
                f" ({', '.join(forbidden[:4])})" if forbidden else "",
            )
        raise UpstreamForbiddenAddressError(
            "the upstream's host name resolves to a link-local or cloud metadata address"
        )
