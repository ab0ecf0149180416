from __future__ import annotations

from collections.abc import Iterator

import pytest

from otel_agents.testing import TelemetryCapture


@pytest.fixture
def telemetry() -> Iterator[TelemetryCapture]:
    """Fresh in-memory tracer and meter providers for one test."""
    capture = TelemetryCapture()
    yield capture
    capture.shutdown()
