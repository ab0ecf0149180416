"""The API gateway: service registry, versioned router, rate limits, reverse proxy.

See :class:`APIGateway` and ``docs/gateway.md``. Needs the ``gateway`` extra
(``pip install 'otel-agents[gateway]'``); the names below are imported on first use
(PEP 562), and one whose dependencies are absent raises
:class:`~otel_agents._errors.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_agents._extras import lazy_package

if TYPE_CHECKING:
    from otel_agents.gateway._app import APIGateway
    from otel_agents.gateway._config import GatewayConfig, load_config
    from otel_agents.gateway._discovery import HubDiscovery
    from otel_agents.gateway._errors import (
        GatewayConfigError,
        InvalidServiceError,
        ServiceNotFoundError,
        UpstreamBusyError,
        UpstreamConnectError,
        UpstreamError,
        UpstreamForbiddenAddressError,
        UpstreamProtocolError,
        UpstreamTimeoutError,
    )
    from otel_agents.gateway._exchanges import ExchangeStore
    from otel_agents.gateway._models import GatewayRequest, GatewayResponse, Headers

# Each public name and the module that defines it, imported by __getattr__ on first use.
_SOURCES: dict[str, str] = {
    "APIGateway": "otel_agents.gateway._app",
    "ExchangeStore": "otel_agents.gateway._exchanges",
    "GatewayConfig": "otel_agents.gateway._config",
    "GatewayConfigError": "otel_agents.gateway._errors",
    "GatewayRequest": "otel_agents.gateway._models",
    "GatewayResponse": "otel_agents.gateway._models",
    "Headers": "otel_agents.gateway._models",
    "HubDiscovery": "otel_agents.gateway._discovery",
    "InvalidServiceError": "otel_agents.gateway._errors",
    "ServiceNotFoundError": "otel_agents.gateway._errors",
    "UpstreamBusyError": "otel_agents.gateway._errors",
    "UpstreamConnectError": "otel_agents.gateway._errors",
    "UpstreamError": "otel_agents.gateway._errors",
    "UpstreamForbiddenAddressError": "otel_agents.gateway._errors",
    "UpstreamProtocolError": "otel_agents.gateway._errors",
    "UpstreamTimeoutError": "otel_agents.gateway._errors",
    "load_config": "otel_agents.gateway._config",
}

__all__ = [
    "APIGateway",
    "ExchangeStore",
    "GatewayConfig",
    "GatewayConfigError",
    "GatewayRequest",
    "GatewayResponse",
    "Headers",
    "HubDiscovery",
    "InvalidServiceError",
    "ServiceNotFoundError",
    "UpstreamBusyError",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamForbiddenAddressError",
    "UpstreamProtocolError",
    "UpstreamTimeoutError",
    "load_config",
]


# Import a public name's module on first use and keep the name (PEP 562); dir() is __all__.
__getattr__, __dir__ = lazy_package(globals(), _SOURCES, lambda _source: "gateway")
