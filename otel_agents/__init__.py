"""otel-agents: OpenTelemetry-native observability for multi-agent systems.

The public names below are imported on first use (PEP 562), so ``import otel_agents`` and
the tracker load neither the gateway's web stack nor any exporter: an agent pays only for
what it uses, and a name whose extra is not installed raises
:class:`~otel_agents.errors.MissingDependencyError` naming the extra when it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_agents._extras import lazy_package
from otel_agents._version import __version__

if TYPE_CHECKING:
    from otel_agents._config import Telemetry, configure, get_telemetry, shutdown
    from otel_agents.alert_rules import ThresholdRule
    from otel_agents.alerts import Alert, AlertLevel
    from otel_agents.dashboard import DashboardView, PerformanceDashboard
    from otel_agents.errors import (
        ConfigurationError,
        ExportError,
        GatewayError,
        InvalidTypeError,
        InvalidValueError,
        MessagingError,
        MissingDependencyError,
        OtelAgentsError,
    )
    from otel_agents.gateway import APIGateway, GatewayConfig
    from otel_agents.inprocess import InProcessMetrics
    from otel_agents.instrumentation import OtelAgentsInstrumentor
    from otel_agents.messaging import (
        AgentCommunicationProtocol,
        AgentMessage,
        AgentStatus,
        MessagePriority,
        MessageType,
    )
    from otel_agents.profiler import PerformanceProfiler, ProfileRecord
    from otel_agents.system_metrics import SystemMetrics
    from otel_agents.tracker import (
        MetricType,
        PerformanceMetric,
        PerformanceSnapshot,
        PerformanceTracker,
    )

# Each public name and the module that defines it, imported by __getattr__ on first use.
_SOURCES: dict[str, str] = {
    "APIGateway": "otel_agents.gateway",
    "AgentCommunicationProtocol": "otel_agents.messaging",
    "AgentMessage": "otel_agents.messaging",
    "AgentStatus": "otel_agents.messaging",
    "Alert": "otel_agents.alerts",
    "AlertLevel": "otel_agents.alerts",
    "ConfigurationError": "otel_agents.errors",
    "DashboardView": "otel_agents.dashboard",
    "ExportError": "otel_agents.errors",
    "GatewayConfig": "otel_agents.gateway",
    "GatewayError": "otel_agents.errors",
    "InProcessMetrics": "otel_agents.inprocess",
    "InvalidTypeError": "otel_agents.errors",
    "InvalidValueError": "otel_agents.errors",
    "MessagePriority": "otel_agents.messaging",
    "MessageType": "otel_agents.messaging",
    "MessagingError": "otel_agents.errors",
    "MetricType": "otel_agents.tracker",
    "MissingDependencyError": "otel_agents.errors",
    "OtelAgentsError": "otel_agents.errors",
    "OtelAgentsInstrumentor": "otel_agents.instrumentation",
    "PerformanceDashboard": "otel_agents.dashboard",
    "PerformanceMetric": "otel_agents.tracker",
    "PerformanceProfiler": "otel_agents.profiler",
    "PerformanceSnapshot": "otel_agents.tracker",
    "PerformanceTracker": "otel_agents.tracker",
    "ProfileRecord": "otel_agents.profiler",
    "SystemMetrics": "otel_agents.system_metrics",
    "Telemetry": "otel_agents._config",
    "ThresholdRule": "otel_agents.alert_rules",
    "configure": "otel_agents._config",
    "get_telemetry": "otel_agents._config",
    "shutdown": "otel_agents._config",
}

__all__ = [
    "APIGateway",
    "AgentCommunicationProtocol",
    "AgentMessage",
    "AgentStatus",
    "Alert",
    "AlertLevel",
    "ConfigurationError",
    "DashboardView",
    "ExportError",
    "GatewayConfig",
    "GatewayError",
    "InProcessMetrics",
    "InvalidTypeError",
    "InvalidValueError",
    "MessagePriority",
    "MessageType",
    "MessagingError",
    "MetricType",
    "MissingDependencyError",
    "OtelAgentsError",
    "OtelAgentsInstrumentor",
    "PerformanceDashboard",
    "PerformanceMetric",
    "PerformanceProfiler",
    "PerformanceSnapshot",
    "PerformanceTracker",
    "ProfileRecord",
    "SystemMetrics",
    "Telemetry",
    "ThresholdRule",
    "__version__",
    "configure",
    "get_telemetry",
    "shutdown",
]


def _extra_of(source: str) -> str | None:
    """Only opentelemetry-instrument's plug-in needs an extra among the top-level names."""
    return "instrumentation" if source == "otel_agents.instrumentation" else None


# Import a public name's module on first use and keep the name (PEP 562); dir() is __all__.
__getattr__, __dir__ = lazy_package(globals(), _SOURCES, _extra_of)
