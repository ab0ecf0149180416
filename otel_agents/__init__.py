"""otel-agents: OpenTelemetry-native observability for multi-agent systems.

The public names below are imported on first use (PEP 562), so ``import otel_agents`` and
the tracker load neither the gateway's web stack nor any exporter: an agent pays only for
what it uses. A name whose extra is not installed is a placeholder that raises
:class:`~otel_agents._errors.MissingDependencyError` naming the extra when it is used, so
``from otel_agents import *`` and ``help(otel_agents)`` work in any install; detect an extra
with :func:`has_extra` (``hasattr`` is always true).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_agents._extras import lazy_package
from otel_agents._sdk_env import import_sdk
from otel_agents._version import __version__

# Before any of our modules imports the SDK: a malformed limit variable it reads at import time
# must cost a warning and its default, never an exception in the host program.
import_sdk()

if TYPE_CHECKING:
    from otel_agents._alert_record import Alert, AlertLevel
    from otel_agents._alert_rules import ThresholdRule
    from otel_agents._config import configure, get_telemetry, shutdown
    from otel_agents._configured import Telemetry
    from otel_agents._dashboard import DashboardView, PerformanceDashboard
    from otel_agents._encryption import decrypt_export, generate_export_key
    from otel_agents._errors import (
        ConfigurationError,
        ExportError,
        GatewayError,
        InvalidTypeError,
        InvalidValueError,
        MessagingError,
        MissingDependencyError,
        OtelAgentsError,
    )
    from otel_agents._extras import has_extra
    from otel_agents._inprocess import InProcessMetrics
    from otel_agents._instrumentation import OtelAgentsInstrumentor
    from otel_agents._profiler import PerformanceProfiler, ProfileRecord
    from otel_agents._system_metrics import SystemMetrics
    from otel_agents._tracker import (
        MetricType,
        PerformanceMetric,
        PerformanceSnapshot,
        PerformanceTracker,
    )
    from otel_agents.gateway import APIGateway, GatewayConfig
    from otel_agents.messaging import (
        AgentCommunicationProtocol,
        AgentMessage,
        AgentStatus,
        MessagePriority,
        MessageType,
    )

# Each public name and the module that defines it, imported by __getattr__ on first use.
_SOURCES: dict[str, str] = {
    "APIGateway": "otel_agents.gateway",
    "AgentCommunicationProtocol": "otel_agents.messaging",
    "AgentMessage": "otel_agents.messaging",
    "AgentStatus": "otel_agents.messaging",
    "Alert": "otel_agents._alert_record",
    "AlertLevel": "otel_agents._alert_record",
    "ConfigurationError": "otel_agents._errors",
    "DashboardView": "otel_agents._dashboard",
    "ExportError": "otel_agents._errors",
    "GatewayConfig": "otel_agents.gateway",
    "GatewayError": "otel_agents._errors",
    "InProcessMetrics": "otel_agents._inprocess",
    "InvalidTypeError": "otel_agents._errors",
    "InvalidValueError": "otel_agents._errors",
    "MessagePriority": "otel_agents.messaging",
    "MessageType": "otel_agents.messaging",
    "MessagingError": "otel_agents._errors",
    "MetricType": "otel_agents._tracker",
    "MissingDependencyError": "otel_agents._errors",
    "OtelAgentsError": "otel_agents._errors",
    "OtelAgentsInstrumentor": "otel_agents._instrumentation",
    "PerformanceDashboard": "otel_agents._dashboard",
    "PerformanceMetric": "otel_agents._tracker",
    "PerformanceProfiler": "otel_agents._profiler",
    "PerformanceSnapshot": "otel_agents._tracker",
    "PerformanceTracker": "otel_agents._tracker",
    "ProfileRecord": "otel_agents._profiler",
    "SystemMetrics": "otel_agents._system_metrics",
    "Telemetry": "otel_agents._configured",
    "ThresholdRule": "otel_agents._alert_rules",
    "configure": "otel_agents._config",
    "decrypt_export": "otel_agents._encryption",
    "generate_export_key": "otel_agents._encryption",
    "get_telemetry": "otel_agents._config",
    "has_extra": "otel_agents._extras",
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
    "decrypt_export",
    "generate_export_key",
    "get_telemetry",
    "has_extra",
    "shutdown",
]


def _extra_of(source: str) -> str | None:
    """Only opentelemetry-instrument's plug-in needs an extra among the top-level names."""
    return "instrumentation" if source == "otel_agents._instrumentation" else None


# Import a public name's module on first use and keep the name (PEP 562); dir() is __all__.
__getattr__, __dir__ = lazy_package(globals(), _SOURCES, _extra_of)
