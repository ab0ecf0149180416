from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from otel_agents.testing import TelemetryCapture

# Module- and session-scoped fixtures (the e2e workload) are built outside any test's
# monkeypatch: the same default for them, for the whole run.
os.environ.setdefault("OTEL_AGENTS_HOST_METRICS", "on")

# Unmarked tests may not use the network or start processes (keeps `-m "not integration"`
# honest); see tests/_isolation.py.
pytest_plugins = ["tests._isolation"]


@pytest.fixture
def telemetry() -> Iterator[TelemetryCapture]:
    """Fresh in-memory tracer and meter providers for one test."""
    capture = TelemetryCapture()
    yield capture
    capture.shutdown()


@pytest.fixture(autouse=True)
def _every_process_reports_host_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process tests see ``system.*`` whatever else runs on this machine.

    With the default ``auto``, one process per host and user reports them, and other test
    runs on a shared machine would win that election. The election has its own tests
    (``tests/test_host_metrics.py``); subprocess probes start from a scrubbed environment.
    """
    monkeypatch.setenv("OTEL_AGENTS_HOST_METRICS", "on")
