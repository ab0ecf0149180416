"""Every panel of every bundled dashboard shows data, and the bundled alert rules fire.

A real workload runs through the package (tracker, profiler, system metrics, in-process
messaging and its hub app, messaging over a real nats-server with JetStream, the API gateway
in front of a real upstream server, the performance dashboard with its alerts and health
scores) into a MeterProvider served for scraping. A real Prometheus scrapes it and evaluates
``prometheus/rules`` (generated, ``for`` dropped). Then every query of every committed
dashboard JSON file, template variables substituted, must return a number, and the alerts the
workload provokes must fire.
"""

from __future__ import annotations

import asyncio
import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _http
import httpx
import pytest
import uvicorn
from _prometheus import MODULE_TIMEOUT
from opentelemetry.sdk.trace import TracerProvider
from stackgen.boards_pipeline import PIPELINE
from stackgen.boards_services import SPAN_METRICS_TAG
from stackgen.names import label, metric
from stackgen.queries import dashboard_queries
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from otel_agents import genai, semconv as sc
from otel_agents._dashboard import PerformanceDashboard
from otel_agents._profiler import PerformanceProfiler
from otel_agents._system_metrics import SystemMetrics
from otel_agents._tracker import MetricType, PerformanceTracker
from otel_agents.gateway import APIGateway
from otel_agents.genai import GenAITelemetry
from otel_agents.genai._telemetry import reset_default_telemetry
from otel_agents.messaging import (
    AgentCommunicationProtocol,
    DeliveryError,
    MessagePriority,
    MessageType,
    SecurityConfig,
)
from otel_agents.messaging._delivery import DeliveryTracker
from otel_agents.messaging._hub import create_hub_app
from otel_agents.messaging._message import new_message
from tests._nats import nats_server

if TYPE_CHECKING:
    from tests.e2e.conftest import MetricsTarget, Prometheus

# Its first test may fetch Prometheus: longer than the default per-test timeout.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(MODULE_TIMEOUT)]

DASHBOARDS = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"
#: Every dashboard but the Pipeline one, which watches the Collector (its own telemetry):
#: this path has none. tests/stack/test_topology.py proves it through the real Collector.
#: (The AI usage board is also proven with the demo's model calls: test_ai_dashboard.py.)
COLLECTOR_FREE_DASHBOARDS = sorted(
    path for path in DASHBOARDS.glob("*.json") if path.name != PIPELINE.file_name
)
SLOW_AGENT = "planner"
#: Alerts the workload provokes on purpose (host CPU and memory depend on the machine).
EXPECTED_ALERTS = {
    "OtelAgentsAgentHighCpu",
    "OtelAgentsSlowAgent",
    "OtelAgentsAgentOffline",
    "OtelAgentsHeartbeatMissing",
    "OtelAgentsGatewayHigh5xxRatio",
    "OtelAgentsUpstreamUnhealthy",
    "OtelAgentsRateLimitSaturation",
    "OtelAgentsLowHealthScore",
    "OtelAgentsMessagesDeadLettered",
}
ALERT_TIMEOUT = 20.0


@dataclass
class ShiftedClock:
    """The real clocks plus an offset the workload advances (heartbeats, expiry)."""

    offset: float = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def time(self) -> float:
        return time.time() + self.offset


#: Where the gateway forwards ``/v1/orders/...``: the service's ``path_prefix`` is kept (no
#: ``strip_prefix``), so the upstream serves its routes under it.
ORDERS_PREFIX = "/orders"


@dataclass
class Upstream:
    """A real HTTP service on 127.0.0.1 for the gateway: ``/orders/ok`` 200,
    ``/orders/fail`` 500 (the paths the gateway forwards), ``/healthz`` 200. It keeps the
    status of every answer it gave by path, so a test can tell that a 5xx came from it."""

    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets' connections; without it
    # each keep-alive request waited ~40 ms for a delayed ACK.
    sock: socket.socket = field(
        default_factory=lambda: socket.socket(
            socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )
    )
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    answered: dict[str, set[int]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def start(self) -> Upstream:
        def answer(request: Request, text: str, status: int) -> PlainTextResponse:
            self.answered.setdefault(request.url.path, set()).add(status)
            return PlainTextResponse(text, status_code=status)

        async def ok(request: Request) -> PlainTextResponse:
            return answer(request, "ok", 200)

        async def fail(request: Request) -> PlainTextResponse:
            return answer(request, "boom", 500)

        async def missing(request: Request) -> PlainTextResponse:
            return answer(request, "not found", 404)

        routes = [
            Route(f"{ORDERS_PREFIX}/ok", ok),
            Route(f"{ORDERS_PREFIX}/fail", fail),
            Route("/healthz", ok),
            Route("/{path:path}", missing),
        ]
        app = Starlette(routes=routes)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        server = self.server
        self.thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[self.sock])), daemon=True
        )
        self.thread.start()
        for _attempt in range(500):  # bounded: 5 s
            if server.started:
                return self
            time.sleep(0.01)
        raise RuntimeError("the upstream server did not start")

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.sock.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Workload:
    """Every otel-agents component, wired to one MeterProvider, driven in rounds."""

    def __init__(self, target: MetricsTarget, upstream: Upstream, nats_url: str) -> None:
        providers: dict[str, Any] = {
            "meter_provider": target.meter_provider,
            "tracer_provider": TracerProvider(),
        }
        self.clock = ShiftedClock()
        self.tracker = PerformanceTracker(
            {"snapshot_interval": 0}, meter_provider=providers["meter_provider"]
        )
        self.profiler = PerformanceProfiler({"snapshot_interval": 0}, **providers)
        reset_default_telemetry(GenAITelemetry(**providers))
        # "on": the election (default auto) is host-wide, and another test run on a shared
        # machine may hold it; this module-scoped workload starts before the conftest sets it.
        self.system = SystemMetrics(providers["meter_provider"], host_metrics="on")
        self.system.enable()
        self.comm = AgentCommunicationProtocol(
            {
                "heartbeat_interval": 30,
                "message_timeout": 30,
                "max_queue_size": 3,
                "ack_timeout": 5,
                "max_delivery_attempts": 2,
            },
            clock=self.clock,
            **providers,
        )
        for agent_id, capability in (
            ("planner", "planning"),
            ("worker", "research"),
            ("monitor", "monitoring"),
            ("straggler", "batch"),
        ):
            self.comm.register_agent(
                agent_id, agent_id.title(), [capability], f"local://{agent_id}"
            )
        # An agent that takes its messages but never reports them processed (as an inbox
        # that dies after its 202 would): the hub redelivers, then dead-letters.
        self.comm.registry.register(
            "ghost", "Ghost", ["batch"], "local://ghost", reports_outcomes=True
        )
        self.comm.register_handler("worker", lambda message: None)
        self.comm.register_handler("monitor", lambda message: None)
        self.comm.register_handler("ghost", lambda message: None)
        self.deliveries = DeliveryTracker(self.comm)  # the hub's delivery bookkeeping
        # An agent on a broker: its durable consumers' lag (the Delivery row's lag panels).
        self.broker = AgentCommunicationProtocol(
            {"transport": nats_url, "broker_timeout": 10.0, "heartbeat_monitor": False},
            **providers,
        )
        self.broker.register_agent("analyst", "Analyst", ["analysis"], "nats-agent://analyst")
        self.broker.register_handler("analyst", lambda message: None)
        self.hub = create_hub_app(
            self.comm, SecurityConfig(shared_secret="e2e-only-token"), **providers
        )
        self.gateway = APIGateway({"unhealthy_threshold": 2}, **providers)
        self.gateway.register_service(
            "orders", "Orders", "v1", upstream.url, "/healthz", path_prefix=ORDERS_PREFIX
        )
        # 600 a minute refills the burst of 6 in 0.6 s: every round (a scrape apart, so at
        # least a second) has 6 requests that reach the upstream and 6 refused, however soon
        # it follows the last one. (At 60 a minute a round right after the first reached the
        # upstream with none, and the upstream latency panels had no rate to show.)
        self.gateway.set_rate_limit("orders", 600, 6)
        self.gateway.register_service(
            "inventory",
            "Inventory",
            "v1",
            f"http://127.0.0.1:{_closed_port()}",
            "/healthz",
            path_prefix="/inventory",
        )
        self.dashboard = PerformanceDashboard(
            self.tracker, self.comm, {"refresh_interval": 5}, gateway=self.gateway, **providers
        )

    def agent_round(self) -> None:
        """Every tracker metric for both agents; the planner is slow, busy and failing."""
        record = self.tracker.record_metric
        for agent_id, slow in ((SLOW_AGENT, True), ("worker", False)):
            for index in range(20):
                record(MetricType.RESPONSE_TIME, 3.0 + index / 10 if slow else 0.05, agent_id)
                record(MetricType.TASK_DURATION, 0.4, agent_id)
                record(MetricType.NETWORK_LATENCY, 0.01, agent_id)
                record(MetricType.REQUEST_COUNT, 1, agent_id)
                if slow:
                    record(MetricType.ERROR_COUNT, 1, agent_id, {"error_type": "TimeoutError"})
            record(MetricType.CPU_USAGE, 97.0 if slow else 20.0, agent_id)
            record(MetricType.MEMORY_USAGE, 256e6, agent_id)
            record(MetricType.THROUGHPUT, 12.5, agent_id)
            record(MetricType.ERROR_RATE, 40.0 if slow else 0.0, agent_id)
            record(MetricType.QUEUE_SIZE, 4, agent_id)
        with self.profiler.profile("plan_step"):
            sum(range(1000))

    def message_round(self) -> None:
        self.comm.send_message(
            "planner", "worker", MessageType.TASK_ASSIGNMENT, {"n": 1}, MessagePriority.HIGH
        )
        self.comm.send_message("worker", "monitor", MessageType.STATUS_UPDATE, {"n": 2})
        self.comm.broadcast_message("monitor", MessageType.HEARTBEAT, {"n": 3}, MessagePriority.LOW)
        # One message through the hub's HTTP API: the hub forwards it (agent.message.routed).
        assert asyncio.run(self._message_through_hub()) == 202
        self.comm.process_pending("worker")
        self.comm.process_pending("monitor")
        self.comm.process_pending("planner")
        # The straggler never processes: its queue fills (depth), the next send fails.
        for _attempt in range(4):
            with suppress(DeliveryError):
                self.comm.send_message("planner", "straggler", MessageType.REQUEST, {"n": 4})
        # A message that waits past message_timeout expires instead of being processed.
        self.comm.send_message("planner", "monitor", MessageType.REQUEST, {"n": 5})
        self.clock.offset += 31
        self.comm.process_pending("monitor")
        # Three parties keep beating; the straggler misses three heartbeats and goes offline.
        self.clock.offset += 70
        for agent_id in ("planner", "worker", "monitor"):
            self.comm.heartbeat(agent_id)
        self.comm.check_heartbeats()
        # A request without the hub's token is rejected (agent.message.rejected).
        assert asyncio.run(self._unauthenticated_hub_call()) == 401
        # The ghost never reports: one redelivery, then the dead-letter store.
        message_id = self.comm.send_message("planner", "ghost", MessageType.REQUEST, {"n": 7})
        self.deliveries.delivered(self.comm.get_message_status(message_id).message)
        for _attempt in range(2):
            self.clock.offset += 6  # past ack_timeout
            asyncio.run(self.deliveries.tick())
            self.comm.process_pending("ghost")
        assert self.comm.get_message_status(message_id).status.value == "dead_lettered"
        # Over NATS: one message sent and processed; the analyst's lag is observed.
        self.broker.send_message("planner", "analyst", MessageType.TASK_ASSIGNMENT, {"n": 8})
        assert self.broker.process_pending("analyst") == 1

    async def _message_through_hub(self) -> int:
        message, _ = new_message(
            "monitor",
            "worker",
            MessageType.REQUEST,
            {"n": 6},
            MessagePriority.NORMAL,
            now=self.clock.time(),
            timeout=30,
        )
        transport = httpx.ASGITransport(app=self.hub)
        async with _http.AsyncClient(transport=transport, base_url="http://hub") as client:
            response = await client.post(
                "/messages",
                content=message.to_json(),
                headers={"authorization": "Bearer e2e-only-token"},
            )
            return response.status_code

    async def _unauthenticated_hub_call(self) -> int:
        transport = httpx.ASGITransport(app=self.hub)
        async with _http.AsyncClient(transport=transport, base_url="http://hub") as client:
            return (await client.get("/agents")).status_code

    def gateway_round(self) -> None:
        for path in ("/ok", "/fail", "/ok", "/fail", "/ok", "/ok"):
            self.gateway.route_request("GET", f"/v1/orders{path}")
        for _attempt in range(6):  # past the burst of 6: 429
            self.gateway.route_request("GET", "/v1/orders/ok")
        for _attempt in range(3):  # refused connections: 502, then out of rotation
            self.gateway.route_request("GET", "/v1/inventory/items")

    def genai_round(self) -> None:
        """An LLM agent's model calls (one priced, one not), a tool and a failing tool."""
        with genai.invoke_agent("planner", conversation_id="e2e-conversation"):
            with genai.model_call("gpt-4o", provider="openai") as call:
                call.set_usage(1200, 300)
                call.set_response(model="gpt-4o", finish_reasons=["stop"])
            genai.record_model_call(
                model="e2e-unpriced",
                provider="local",
                input_tokens=10,
                output_tokens=5,
                duration_s=0.2,
            )
            with genai.execute_tool("search"):
                pass
            with suppress(TimeoutError), genai.execute_tool("fetch"):
                raise TimeoutError

    def run_round(self) -> None:
        self.agent_round()
        self.message_round()
        self.gateway_round()
        self.genai_round()
        self.dashboard.add_alert("warning", "e2e round finished", "e2e_workload")
        self.dashboard.refresh()

    def close(self) -> None:
        reset_default_telemetry(None)
        self.dashboard.stop()
        self.broker.stop()
        self.gateway.close()
        self.system.disable()
        self.tracker.stop()


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def workload(
    dashboard_target: MetricsTarget,
    dashboard_prometheus: Prometheus,
    upstream: Upstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Workload]:
    """Two rounds of the workload, each scraped, so every counter has a rate."""
    with nats_server(tmp_path_factory.mktemp("nats")) as broker:
        load = Workload(dashboard_target, upstream, broker.url)
        try:
            for _round in range(2):
                load.run_round()
                dashboard_prometheus.wait_for_scrape_after(time.time())
            yield load
        finally:
            load.close()


def _has_number(result: list[dict[str, Any]]) -> bool:
    return any(not math.isnan(float(sample["value"][1])) for sample in result)


def test_the_expected_alert_rules_fire(
    dashboard_prometheus: Prometheus, workload: Workload
) -> None:
    firing: set[str] = set()
    deadline = time.monotonic() + ALERT_TIMEOUT
    for _attempt in range(int(ALERT_TIMEOUT / 0.5) + 1):
        response = dashboard_prometheus.client.get(f"{dashboard_prometheus.url}/api/v1/alerts")
        response.raise_for_status()
        alerts = response.json()["data"]["alerts"]
        firing = {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}
        if firing >= EXPECTED_ALERTS or time.monotonic() >= deadline:
            break
        time.sleep(0.5)

    assert EXPECTED_ALERTS - firing == set()


def test_the_orders_upstream_answers_both_2xx_and_5xx(
    dashboard_prometheus: Prometheus, workload: Workload, upstream: Upstream
) -> None:
    """The 5xx ratio is proven with the upstream's own 500s too, not only the gateway's 502s
    for the closed inventory port (the upstream used to answer 404 to every forwarded path)."""
    service = f'{label(sc.GATEWAY_SERVICE_ID)}="orders"'
    series = f"{metric(sc.GATEWAY_REQUESTS)}{{{service}}}"
    result = dashboard_prometheus.query(f"sum by ({label(sc.GATEWAY_STATUS_CLASS)}) ({series})")
    classes = {sample["metric"][label(sc.GATEWAY_STATUS_CLASS)] for sample in result}

    assert upstream.answered[f"{ORDERS_PREFIX}/ok"] == {200}
    assert upstream.answered[f"{ORDERS_PREFIX}/fail"] == {500}
    assert {"2xx", "5xx"} <= classes


def test_every_panel_query_of_every_dashboard_returns_data(
    dashboard_prometheus: Prometheus, workload: Workload
) -> None:
    # The alerts panels read ALERTS: wait for the rules to fire first.
    dashboard_prometheus.query('ALERTS{alertstate="firing"}', ALERT_TIMEOUT)
    # Span metrics and the Pipeline board's series are made by the Collector: a direct scrape
    # has none, so those boards are proven against the real Collector
    # (tests/stack/test_topology.py).
    queries = dashboard_queries(
        COLLECTOR_FREE_DASHBOARDS, {"agent": SLOW_AGENT}, without_tag=SPAN_METRICS_TAG
    )

    empty = [
        f"{q.dashboard} / {q.panel} [{q.ref_id}]: {q.expr}"
        for q in queries
        if not _has_number(dashboard_prometheus.query_once(q.expr))
    ]

    assert queries
    assert empty == [], "panels without data:\n" + "\n".join(empty)
