"""The dashboard sees what messaging, the gateway and the profiler record, via the SDK."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from otel_agents._dashboard import DashboardView, PerformanceDashboard
from otel_agents._inprocess import InProcessMetrics
from otel_agents._profiler import PerformanceProfiler
from otel_agents.gateway import APIGateway
from otel_agents.messaging import AgentCommunicationProtocol, MessageType

pytestmark = pytest.mark.integration  # real servers or processes on 127.0.0.1


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the dashboard, not the access log."""


@pytest.fixture
def upstream() -> Iterator[str]:
    """A real HTTP upstream on 127.0.0.1, on a free port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def providers() -> Iterator[tuple[InProcessMetrics, MeterProvider, TracerProvider]]:
    reader = InProcessMetrics()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield reader, meter_provider, TracerProvider()
    meter_provider.shutdown()


def test_dashboard_shows_messages_gateway_requests_and_profiled_blocks(
    providers: tuple[InProcessMetrics, MeterProvider, TracerProvider],
    upstream: str,
    tmp_path: Path,
) -> None:
    reader, meter_provider, tracer_provider = providers
    comm = AgentCommunicationProtocol(
        meter_provider=meter_provider, tracer_provider=tracer_provider
    )
    comm.register_agent("planner", "Planner", ["plan"], "local://planner")
    comm.register_agent("worker", "Worker", ["work"], "local://worker")
    comm.register_handler("worker", lambda message: None, MessageType.TASK_ASSIGNMENT)
    for n in range(10):
        comm.send_message("planner", "worker", MessageType.TASK_ASSIGNMENT, {"n": n})
    assert comm.process_pending("worker") == 10

    gateway = APIGateway(
        None,
        meter_provider=meter_provider,
        tracer_provider=tracer_provider,
    )
    try:
        # Built before the requests: the system section counts the gateway's requests of
        # its window, which starts at the dashboard's first reading.
        dashboard = PerformanceDashboard(agent_manager=comm, gateway=gateway, metrics_reader=reader)
        gateway.register_service("users", "Users", "v1", upstream, path_prefix="/users")
        for n in range(5):
            assert gateway.route_request("GET", f"/v1/users/{n}").status_code == 200
        profiler = PerformanceProfiler(meter_provider=meter_provider)
        with profiler.profile("plan_step"):
            pass

        data = dashboard.get_dashboard_data()
        exported = json.loads(dashboard.export_dashboard_data(tmp_path / "d.json").read_text())
    finally:
        gateway.close()
        comm.stop()

    telemetry = data["telemetry"]
    assert telemetry["available"] is True
    assert telemetry["messages"]["sent"] == 10
    assert telemetry["messages"]["consumed"] == 10
    assert telemetry["messages"]["agents"]["worker"]["addressed"] == 10
    assert telemetry["messages"]["agents"]["worker"]["consumed"] == 10
    assert telemetry["messages"]["processing"]["count"] == 10
    assert telemetry["gateway"]["services"]["users"]["requests"] == 5
    assert telemetry["profiler"]["plan_step"]["count"] == 1
    assert data["system"]["messages_sent"] == 10
    assert data["system"]["gateway_requests"] == 5
    assert data["system"]["requests"] == 5
    assert data["system"]["profiled_blocks"] == 1
    assert data["agents"]["worker"]["messages_consumed"] == 10
    assert exported["telemetry"]["messages"]["sent"] == 10


def test_without_a_reader_the_dashboard_says_telemetry_is_unavailable() -> None:
    data = PerformanceDashboard(config={"system_resources": False}).get_dashboard_data()
    assert data["telemetry"] == {"available": False}
    assert data["system"]["messages_sent"] == 0


def test_set_view_changes_the_current_view_section() -> None:
    dashboard = PerformanceDashboard(config={"system_resources": False})
    assert set(dashboard.get_dashboard_data()["current_view"]) == {"system", "upstreams"}
    dashboard.set_view(DashboardView.ALERTS)
    assert set(dashboard.get_dashboard_data()["current_view"]) == {"alerts", "rules"}
    dashboard.set_view("historical")
    data = dashboard.get_dashboard_data()
    assert data["current_view"]["historical"] == data["historical"]


def test_a_failing_observable_callback_reads_as_empty_not_an_error() -> None:
    reader = InProcessMetrics()
    provider = MeterProvider(metric_readers=[reader])
    try:
        counter = provider.get_meter("t").create_counter("t.count")
        counter.add(2)

        def boom(options: Any) -> Any:
            raise RuntimeError("callback failed")

        provider.get_meter("t").create_observable_gauge("t.bad", [boom])
        assert reader.snapshot()["t.count"][0][1] == 2
    finally:
        provider.shutdown()
