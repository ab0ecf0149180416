"""Errors raised by the API gateway.

The tree (all derive from :class:`otel_agents._errors.GatewayError`)::

    GatewayError
    ├── ServiceNotFoundError (LookupError)   an unknown service id
    ├── InvalidServiceError (ValueError)     a registration with a bad argument
    ├── GatewayConfigError                   a config file or setting that cannot be used
    │                                        (also a ConfigurationError, so a ValueError)
    ├── InvalidRequestHeadError (ValueError) a request the gateway will not write upstream
    │                                        (answered as 400, never sent)
    └── UpstreamError                        an upstream call failed (answered as 502/504)
        ├── UpstreamConnectError             refused, unreachable, reset before a response
        │   └── UpstreamForbiddenAddressError  a checked upstream's name resolves to a
        │                                      link-local or metadata address (not tried)
        ├── UpstreamTimeoutError             no response within ``request_timeout``
        └── UpstreamProtocolError            the upstream spoke broken HTTP/1.1

Upstream errors never reach a client as text: the gateway turns them into RFC 9457 problem
responses that name no internal address.
"""

from __future__ import annotations

from typing import Any

from otel_agents import semconv
from otel_agents._errors import ConfigurationError, GatewayError, _message

__all__ = [
    "GatewayConfigError",
    "InvalidRequestHeadError",
    "InvalidServiceError",
    "ServiceNotFoundError",
    "UpstreamBusyError",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamForbiddenAddressError",
    "UpstreamProtocolError",
    "UpstreamTimeoutError",
]


class ServiceNotFoundError(GatewayError, LookupError):
    """No service is registered under that id."""

    def __init__(self, service_id: str, known: list[str]) -> None:
        shown = ", ".join(sorted(known)) or "none"
        super().__init__(
            f"service_id={service_id!r} is not registered; registered services: {shown}. "
            "Register it first with register_service()."
        )
        self.service_id = service_id


class InvalidServiceError(GatewayError, ValueError):
    """A service registration or rate limit with an argument that cannot be used."""

    @classmethod
    def build(cls, parameter: str, value: Any, expected: str) -> InvalidServiceError:
        return cls(_message(parameter, value, expected, None))


class GatewayConfigError(GatewayError, ConfigurationError):
    """A gateway setting or config file that cannot be used.

    A :class:`~otel_agents._errors.ConfigurationError` like every bad setting, so
    ``except ConfigurationError`` (and ``except ValueError``) catches it too.
    """


class InvalidRequestHeadError(GatewayError, ValueError):
    """A request whose head cannot be written upstream as valid HTTP/1.1: a header name
    that is not a token, or a CR, LF or NUL in a name, a value, the method or the target.

    Written as is, such a header would end early and start another one, or another
    request, that the upstream believes came from the gateway (header injection, request
    smuggling). The gateway answers ``400`` and sends nothing upstream. The message never
    shows the header itself: it may carry a credential.
    """

    error_type = semconv.GATEWAY_ERROR_INVALID_HEADER


class UpstreamError(GatewayError):
    """An upstream call failed. ``error_type`` is the low-cardinality ``error.type`` value."""

    error_type = "upstream_error"


class UpstreamConnectError(UpstreamError):
    """The upstream refused the connection, was unreachable or closed it early."""

    error_type = "connect_error"


class UpstreamForbiddenAddressError(UpstreamConnectError):
    """An upstream from the admin API or hub discovery whose name resolved, at connect, to
    a link-local or cloud metadata address: the gateway did not connect (DNS rebinding;
    see ``_connect_check``). Answered like any unreachable upstream: a 502 that names no
    address."""

    error_type = semconv.GATEWAY_ERROR_FORBIDDEN_ADDRESS


class UpstreamTimeoutError(UpstreamError):
    """The upstream did not answer within the configured timeout."""

    error_type = "timeout"


class UpstreamBusyError(UpstreamError):
    """Every connection the gateway may open to the upstream stayed busy: a 503 of the
    gateway's own, not a fault of the upstream (health checks do not count it)."""

    error_type = "pool_exhausted"


class UpstreamProtocolError(UpstreamError):
    """The upstream answered with something that is not valid HTTP/1.1."""

    error_type = "protocol_error"
