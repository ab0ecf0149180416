"""The NATS transport's connection: the first connect, bounded, and what failures mean.

nats-py retries an unreachable server for ever when reconnects are allowed (which later
outages need): the first connection is bounded here by ``broker_timeout``. Credentials the
server refuses are retried for ever too, and would look like a timeout: the client's error
callback sees the server's "Authorization Violation" and the first connection fails at once,
naming where the credentials come from, never their value. A server without JetStream, or
one refusing the stream and buckets, is a :class:`DeliveryError` that says what to do, not a
raw nats-py error.

A ``tls://`` URL requires TLS: nats-py upgrades only when the server's INFO says
``tls_required`` and would otherwise send CONNECT, credentials included, in clear. The
client here refuses such a server before CONNECT (:func:`tls_client`), and the first
connection fails at once saying so. ``wss://`` is TLS from the first byte. The server's
certificate is checked against the system's CAs (``SSL_CERT_FILE`` names another bundle).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from otel_agents._errors import ConfigurationError
from otel_agents._logs import redacting_logger
from otel_agents._server_params import NATS_PASSWORD, NATS_TOKEN, NATS_USER
from otel_agents.messaging._errors import DeliveryError
from otel_agents.messaging._transport import NATS_SCHEMES

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = [
    "PASSWORD_ENV",
    "TOKEN_ENV",
    "USER_ENV",
    "Connector",
    "checked_url",
    "credentials",
    "setup_error",
]

_logger = redacting_logger("otel_agents.messaging")

#: Credentials from the environment, for URLs that should not carry them (command lines).
TOKEN_ENV, USER_ENV, PASSWORD_ENV = (
    NATS_TOKEN.variable,
    NATS_USER.variable,
    NATS_PASSWORD.variable,
)


def shown_url(url: str) -> str:
    """``url`` as far as an error may show it: no userinfo, no path, at most 100 chars."""
    scheme, _, rest = url.partition("://")
    # After the last "@": a password may hold "/", "?" or "#" (unescaped, in a bad URL).
    netloc = rest.rsplit("@", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}://{'***@' if '@' in rest else ''}{netloc}"[:100]


def checked_url(url: object) -> str:
    """The NATS server's URL, its scheme in lower case, or a :class:`ConfigurationError`
    naming what is wrong (never the credentials it may hold): one of the schemes, a host, a
    port 1-65535 if one is given. Checked before connecting, so that a typo is not reported
    as an unreachable server, nor a wrong case as a DNS failure."""
    where = "the NATS URL (config['transport'], --nats)"
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"{where} is not valid: expected a URL such as nats://127.0.0.1:4222"
        )
    scheme, _, rest = url.partition("://")
    normalised = f"{scheme.lower()}://{rest}"
    shown = shown_url(normalised)
    if scheme.lower() not in NATS_SCHEMES:
        raise ConfigurationError(
            f"{where} {shown!r} is not valid: the scheme must be one of "
            f"{', '.join(NATS_SCHEMES)} (nats://127.0.0.1:4222)"
        )
    if any(c in rest for c in ", \t\r\n"):
        raise ConfigurationError(
            f"{where} {shown!r} is not valid: one server URL, without spaces or commas"
        )
    try:
        parts = urllib.parse.urlsplit(normalised)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ConfigurationError(
            f"{where} {shown!r} is not valid: expected scheme://host:port, with a port "
            "1-65535 (an IPv6 host in brackets: [::1])"
        ) from None
    if not host:
        raise ConfigurationError(f"{where} {shown!r} is not valid: it names no host")
    if port == 0:
        raise ConfigurationError(f"{where} {shown!r} is not valid: the port must be 1-65535")
    return normalised


def credentials() -> dict[str, str]:
    found = {
        "token": os.environ.get(TOKEN_ENV),
        "user": os.environ.get(USER_ENV),
        "password": os.environ.get(PASSWORD_ENV),
    }
    return {key: value for key, value in found.items() if value}


@functools.cache
def tls_client() -> tuple[type[Client], type[Exception]]:
    """nats-py's client that refuses, for a ``tls://`` server, an INFO without
    ``tls_required`` (before CONNECT, hence before any credential is sent), and the error it
    raises then (a ``nats.errors.Error``: the client's retry loop reports it to the error
    callback)."""
    import nats.errors
    from nats.aio.client import Client

    class TlsNotOfferedError(nats.errors.Error):
        """The server of a ``tls://`` URL did not require TLS."""

    class TlsClient(Client):
        async def _process_info(
            self, info: dict[str, Any], initial_connection: bool = False
        ) -> None:
            server = self._current_server
            if (
                initial_connection
                and server is not None
                and server.uri.scheme == "tls"
                and info.get("tls_required") is not True
            ):
                raise TlsNotOfferedError("nats: the server did not offer TLS")
            await super()._process_info(info, initial_connection)

    return TlsClient, TlsNotOfferedError


def refused_credentials(exc: Exception) -> bool:
    """Whether nats-py's error is the server's "Authorization Violation" (during the first
    connection it is a plain ``nats.errors.Error`` carrying the server's text)."""
    import nats.errors

    return isinstance(exc, nats.errors.AuthorizationError) or (
        "authorization violation" in str(exc).lower()
    )


class Connector:
    """One transport's connection: the bounded first connect and the error callback."""

    def __init__(self, url: str, server: str, broker_timeout: float) -> None:
        self.url, self.server, self.broker_timeout = url, server, broker_timeout
        self.connected = False
        #: The last error nats-py reported (named when the first connection times out).
        self.last_error: Exception | None = None
        self._refused: asyncio.Event | None = None
        self._said_refused = False
        #: Set when a ``tls://`` server did not offer TLS (nothing was sent to it).
        self.tls_refused = False
        self._said_tls = False

    async def connect(self, reconnected_cb: Callable[[], Awaitable[None]]) -> Client:
        """The first connection, within ``broker_timeout``; refused credentials end it at
        once."""
        client_class, _ = tls_client()
        self._refused = refused = asyncio.Event()
        client = client_class()
        options: dict[str, Any] = {
            **credentials(),
            "connect_timeout": max(1, min(5, int(self.broker_timeout))),
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0.5,
            "error_cb": self.on_error,
            "reconnected_cb": reconnected_cb,
            "name": "otel-agents",
        }
        connecting = asyncio.ensure_future(client.connect(self.url, **options))
        refusal = asyncio.ensure_future(refused.wait())
        await asyncio.wait(
            {connecting, refusal}, timeout=self.broker_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        refusal.cancel()
        if connecting.done() and not connecting.cancelled() and connecting.exception() is None:
            self.connected = True
            return client
        connecting.cancel()
        with contextlib.suppress(BaseException):
            await connecting
        with contextlib.suppress(Exception):
            await client.close()  # its socket, if the refusal came mid-attempt
        if refused.is_set() and self.tls_refused:
            raise DeliveryError(
                f"the NATS server at {self.server} did not offer TLS, which the tls:// URL "
                "requires: nothing (no credentials) was sent; use the server's TLS port, or "
                "nats:// if plain text is intended",
                reason="tls_required",
            )
        if refused.is_set():
            raise DeliveryError(
                f"the NATS server at {self.server} refused the credentials "
                f"({TOKEN_ENV} / {USER_ENV} + {PASSWORD_ENV} / URL userinfo): check them",
                reason="unauthorized",
            )
        failure = self.last_error if connecting.cancelled() else connecting.exception()
        what = "TimeoutError" if failure is None else type(failure).__name__
        raise DeliveryError(
            f"cannot connect to the NATS server at {self.server} within "
            f"{self.broker_timeout:g} s ({what}): check that nats-server "
            "is running with JetStream (-js)",
            reason="broker_unreachable",
        )

    async def on_error(self, exc: Exception) -> None:
        """nats-py's error callback: remembered; refused credentials end the first
        connection, and are said once when a reconnection meets them."""
        self.last_error = exc
        if isinstance(exc, tls_client()[1]):
            if not self.connected and self._refused is not None:
                self.tls_refused = True
                self._refused.set()
            else:  # retried like any outage, said once
                log = _logger.debug if self._said_tls else _logger.warning
                self._said_tls = True
                log("the NATS server at %s did not offer TLS: not connecting", self.server)
            return
        if refused_credentials(exc):
            if not self.connected and self._refused is not None:
                self._refused.set()
            else:  # the server's credentials changed: retried like any outage
                log = _logger.debug if self._said_refused else _logger.warning
                self._said_refused = True
                log("the NATS server at %s refused the credentials", self.server)
            return
        _logger.debug("NATS connection to %s: %s", self.server, type(exc).__name__)


def setup_error(exc: Exception, server: str) -> DeliveryError:
    """What a failure to set up the streams and buckets means, as a :class:`DeliveryError`
    (nats-py's own errors name neither the server nor the fix)."""
    import nats.errors
    import nats.js.errors

    if isinstance(exc, (nats.js.errors.ServiceUnavailableError, nats.errors.NoRespondersError)):
        return DeliveryError(
            f"the NATS server at {server} has no JetStream: start nats-server with -js "
            "(and a store directory, -sd)",
            reason="jetstream_unavailable",
        )
    if isinstance(exc, nats.js.errors.APIError):
        return DeliveryError(
            f"the NATS server at {server} refused to set up the stream and buckets "
            f"({exc.description}): check the account's JetStream limits and permissions",
            reason="broker_refused",
        )
    return DeliveryError(
        f"setting up the stream and buckets on the NATS server at {server} failed "
        f"({type(exc).__name__}): check that it is reachable and has JetStream (-js)",
        reason="broker_unreachable",
    )
