"""``configure(dashboard=True)`` / ``OTEL_AGENTS_DASHBOARD`` register the in-process reader.

Each case runs in a fresh interpreter: configure() sets the process-wide providers once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.integration  # each case runs a fresh interpreter

_PROBE = """
import json, otel_agents
from otel_agents._dashboard import PerformanceDashboard
from otel_agents._inprocess import installed_reader
from otel_agents._profiler import PerformanceProfiler

kwargs = json.loads(%r)
telemetry = otel_agents.configure(
    traces_exporter="none", metrics_exporter="none", logs_exporter="none",
    system_metrics=False, **kwargs
)
with PerformanceProfiler().profile("plan_step"):
    pass
data = PerformanceDashboard(config={"system_resources": False}).get_dashboard_data()
found = {
    "installed": installed_reader() is not None,
    "on_telemetry": telemetry.dashboard_reader is installed_reader(),
    "available": data["telemetry"]["available"],
    "blocks": data["system"]["profiled_blocks"],
    "readers": len(telemetry.meter_provider._metric_readers),
}
otel_agents.shutdown()
found["after_shutdown"] = installed_reader() is not None
print(json.dumps(found))
"""


def _probe(environ: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(environ)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE % json.dumps(kwargs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_by_default_no_reader_is_registered_and_the_dashboard_says_so() -> None:
    found = _probe({})
    assert found == {
        "installed": False,
        "on_telemetry": True,  # both None
        "available": False,
        "blocks": 0,
        "readers": 0,
        "after_shutdown": False,
    }


def test_the_dashboard_argument_registers_the_reader_the_dashboard_reads() -> None:
    found = _probe({}, dashboard=True)
    assert found == {
        "installed": True,
        "on_telemetry": True,
        "available": True,
        "blocks": 1,
        "readers": 1,
        "after_shutdown": False,
    }


def test_otel_agents_dashboard_true_registers_the_reader() -> None:
    found = _probe({"OTEL_AGENTS_DASHBOARD": "true"})
    assert (found["installed"], found["blocks"]) == (True, 1)


def test_the_argument_wins_over_the_variable() -> None:
    found = _probe({"OTEL_AGENTS_DASHBOARD": "true"}, dashboard=False)
    assert (found["installed"], found["readers"]) == (False, 0)
