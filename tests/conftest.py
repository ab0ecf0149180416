from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from otel_agents._profiler import PerformanceProfiler
from otel_agents.genai._telemetry import reset_default_telemetry
from otel_agents.testing import TelemetryCapture, reset_configure

# Module- and session-scoped fixtures (the e2e workload) are built outside any test's
# monkeypatch: the same default for them, for the whole run.
os.environ.setdefault("OTEL_AGENTS_HOST_METRICS", "on")

# Unmarked tests may not use the network or start processes (keeps `-m "not integration"`
# honest); see tests/_isolation.py.
pytest_plugins = ["tests._isolation"]

#: The longest test files: each runs the real stack for a minute or more. ``scripts/test`` runs
#: the suite on several workers, a file per worker at a time (``-n 5 --dist loadfile
#: --no-loadscope-reorder``); collected first, these start at once and the short files fill
#: the other workers around them, instead of starting last and running alone at the end.
LONGEST_FIRST = (
    "tests/stack/test_topology.py",
    "tests/stack/test_topology_faults.py",
    "tests/stack/test_promtool.py",  # CPU-bound: 13 s alone, 50 s or more among the others
    "tests/stack/test_topology_nats_agents.py",
    "tests/stack/test_topology_refusing.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the tests of :data:`LONGEST_FIRST` to the front, in that order (stable otherwise)."""
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}

    def position(item: pytest.Item) -> int:
        return rank.get(item.path.relative_to(config.rootpath).as_posix(), len(rank))

    items.sort(key=position)


@pytest.fixture
def telemetry() -> Iterator[TelemetryCapture]:
    """Fresh in-memory tracer and meter providers for one test."""
    capture = TelemetryCapture()
    yield capture
    capture.shutdown()


@pytest.fixture
def profiler(telemetry: TelemetryCapture) -> Iterator[PerformanceProfiler]:
    """A profiler on the test's providers, without its snapshot thread; stopped after."""
    with PerformanceProfiler(
        {"snapshot_interval": 0},
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    ) as profiler:
        yield profiler


@pytest.fixture(autouse=True)
def _every_process_reports_host_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process tests see ``system.*`` whatever else runs on this machine.

    With the default ``auto``, one process per host and user reports them, and other test
    runs on a shared machine would win that election. The election has its own tests
    (``tests/test_host_metrics.py``); subprocess probes start from a scrubbed environment.
    """
    monkeypatch.setenv("OTEL_AGENTS_HOST_METRICS", "on")


@pytest.fixture
def quiet_configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """configure() exports nowhere and starts no host metrics; everything it set (global
    providers, the default GenAI telemetry) is reset before and after the test."""
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"):
        monkeypatch.setenv(name, "none")
    monkeypatch.setenv("OTEL_AGENTS_SYSTEM_METRICS", "false")
    reset_configure()
    try:
        yield
    finally:
        reset_configure()
        reset_default_telemetry(None)
