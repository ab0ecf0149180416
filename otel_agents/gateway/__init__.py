"""The API gateway: service registry, versioned router, rate limits, reverse proxy.

See :class:`APIGateway` and ``docs/gateway.md``.
"""

from __future__ import annotations

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
