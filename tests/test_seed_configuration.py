"""The seed's "Advanced Configuration": one dictionary shared by every component."""

from __future__ import annotations

import pytest

from otel_agents import (
    AgentCommunicationProtocol,
    APIGateway,
    ConfigurationError,
    PerformanceDashboard,
    PerformanceProfiler,
    PerformanceTracker,
)
from otel_agents.testing import TelemetryCapture


def test_one_config_dict_is_accepted_by_every_component(telemetry: TelemetryCapture) -> None:
    # Custom configuration
    config = {
        "max_metrics_history": 50000,
        "snapshot_interval": 30,
        "heartbeat_interval": 15,
        "health_check_interval": 45,
    }

    # Initialize with custom config
    tracker = PerformanceTracker(config, meter_provider=telemetry.meter_provider)
    comm = AgentCommunicationProtocol(config)
    gateway = APIGateway(config)
    profiler = PerformanceProfiler(config, meter_provider=telemetry.meter_provider)
    dashboard = PerformanceDashboard(tracker, comm, config)

    for component in (tracker, profiler, comm, dashboard):
        component.stop()
    gateway.close()
    assert tracker.config["max_metrics_history"] == 50000
    assert tracker.config["snapshot_interval"] == 30
    assert comm.config["heartbeat_interval"] == 15
    assert gateway.config.health_check_interval == 45


def test_a_misspelt_key_is_still_rejected_with_the_valid_keys(telemetry: TelemetryCapture) -> None:
    with pytest.raises(ConfigurationError, match=r"'heartbeat_intervall'.*valid keys"):
        PerformanceTracker({"heartbeat_intervall": 15}, meter_provider=telemetry.meter_provider)
