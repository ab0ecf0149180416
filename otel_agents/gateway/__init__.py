"""The API gateway: service registry, versioned router, rate limits, reverse proxy.

See :class:`APIGateway` and ``docs/gateway.md``. Needs the ``gateway`` extra
(``pip install 'otel-agents[gateway]'``); the names below are imported on first use
(PEP 562), and one whose dependencies are absent raises
:class:`~otel_agents.errors.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_agents._extras import lazy_package

if TYPE_CHECKING:
    from otel_agents.gateway.app import APIGateway
    from otel_agents.gateway.config import GatewayConfig, load_config
    from otel_agents.gateway.discovery import HubDiscovery
    from otel_agents.gateway.errors import (
        GatewayConfigError,
        InvalidServiceError,
        ServiceNotFoundError,
        UpstreamBusyError,
        UpstreamConnectError,
        UpstreamError,
        UpstreamProtocolError,
        UpstreamTimeoutError,
    )
    from otel_agents.gateway.exchanges import ExchangeStore
    from otel_agents.gateway.models import GatewayRequest, GatewayResponse, Headers

# Each public name and the module that defines it, imported by __getattr__ on first use.
_SOURCES: dict[str, str] = {
    "APIGateway": "otel_agents.gateway.app",
    "ExchangeStore": "otel_agents.gateway.exchanges",
    "GatewayConfig": "otel_agents.gateway.config",
    "GatewayConfigError": "otel_agents.gateway.errors",
    "GatewayRequest": "otel_agents.gateway.models",
    "GatewayResponse": "otel_agents.gateway.models",
    "Headers": "otel_agents.gateway.models",
    "HubDiscovery": "otel_agents.gateway.discovery",
    "InvalidServiceError": "otel_agents.gateway.errors",
    "ServiceNotFoundError": "otel_agents.gateway.errors",
    "UpstreamBusyError": "otel_agents.gateway.errors",
    "UpstreamConnectError": "otel_agents.gateway.errors",
    "UpstreamError": "otel_agents.gateway.errors",
    "UpstreamProtocolError": "otel_agents.gateway.errors",
    "UpstreamTimeoutError": "otel_agents.gateway.errors",
    "load_config": "otel_agents.gateway.config",
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
    "UpstreamProtocolError",
    "UpstreamTimeoutError",
    "load_config",
]


# Import a public name's module on first use and keep the name (PEP 562); dir() is __all__.
__getattr__, __dir__ = lazy_package(globals(), _SOURCES, lambda _source: "gateway")
