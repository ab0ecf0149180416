"""otel-agents: OpenTelemetry-native observability for multi-agent systems."""

from __future__ import annotations

from otel_agents._config import Telemetry, configure, get_telemetry, shutdown
from otel_agents._version import __version__
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
