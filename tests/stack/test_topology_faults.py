"""Faults in the compose stack, run for real: telemetry is lost, the user's work is not.

The whole compose topology runs as in ``test_topology.py`` (:func:`_stack_run.running_stack`:
the same processes, with the deliberate changes that module's docstring lists), on a stack of
its own so that the two modules run in parallel (a stopped Collector ends every service's
telemetry, and the last test stops the services). Then: a stopped Collector fires
OtelAgentsCollectorDown to the webhook while the services keep working, and once it is back
the services' SDKs report what they lost; with the Collector gone, each service still stops
by itself on SIGTERM. (A stopped Jaeger is ``test_topology.py``'s: it costs that module
nothing, as it waits for the killed monitor's series to expire meanwhile.)

The last test leaves the Collector gone: the teardown kills what is left (SIGKILL), as
nothing is measured any more and a SIGTERM would only wait for each service's flush to a
Collector that is not there (how they stop on SIGTERM is that test).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import _http
import pytest
from _stack_run import BATCH_DELAY, FETCH_TIMEOUT, Stack, eventually, running_stack
from _topology import REPO
from stackgen.boards_pipeline import SDK_FAILURES, SDK_LOSS_PANEL
from stackgen.queries import dashboard_queries

from otel_agents import semconv
from otel_agents._prometheus_names import prometheus_label_name

pytestmark = [pytest.mark.integration, pytest.mark.timeout(FETCH_TIMEOUT + 600.0)]
PIPELINE_BOARD = REPO / "grafana" / "dashboards" / "otel-agents-pipeline.json"
#: The services that keep running through the faults (their work must go on).
SERVICES = ("gateway", "hub", "agent-planner", "agent-worker", "demo")
LOSING = "OtelAgentsServiceLosingTelemetry"
#: The services' OTLP exporter gives up a batch within its timeout (the SDK's default, 10 s)
#: after the batch processor hands it over (within BATCH_DELAY).
SDK_GIVES_UP = BATCH_DELAY + 10.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("faults"), teardown=signal.SIGKILL) as stack:
        yield stack


def test_a_stopped_collector_alerts_and_the_sdks_report_their_loss_once_it_is_back(
    stack: Stack,
) -> None:
    """Stopping the Collector fires OtelAgentsCollectorDown, which reaches the webhook; the
    services' work goes on while their SDKs fail to export. Started again, the Collector
    receives what the SDKs counted meanwhile (``otel.sdk.*`` with ``error.type``): the
    Pipeline board's "Lost by the SDKs" panel has data for the services, and
    OtelAgentsServiceLosingTelemetry fires for them."""
    topology = stack.topology
    registered = stack.register_coordinator()  # the sender of the message below
    assert registered.status_code in (200, 201), registered.text
    assert topology.running("otel-collector")
    topology.stop("otel-collector")
    with _http.Client(base_url=stack.gateway) as client:
        assert [client.get("/v1/hub/healthz").status_code for _ in range(20)] == [200] * 20
    assert stack.post_message("planner", through_gateway=True).status_code == 202
    # Spans of this traffic fail to export (the OTLP exporter gives up within SDK_GIVES_UP),
    # and every export of metric points fails meanwhile: the SDKs count both.
    given_up = time.monotonic() + SDK_GIVES_UP
    notified = eventually(
        lambda: stack.notified("OtelAgentsCollectorDown", "firing"),
        bool,
        "the OtelAgentsCollectorDown notification",
        90,
    )
    down = next(
        a
        for n in notified
        for a in n["alerts"]
        if a["labels"]["alertname"] == "OtelAgentsCollectorDown"
    )
    assert down["labels"]["severity"] == "critical"
    assert down["labels"]["service"] == "otel-collector"
    for name in SERVICES:
        assert topology.running(name), f"{name} died:\n{topology.processes[name].tail()}"
    # The work goes on while the SDKs fail to export.
    with _http.Client(base_url=stack.gateway) as client:
        assert [client.get("/v1/hub/healthz").status_code for _ in range(20)] == [200] * 20
    time.sleep(max(0.0, given_up - time.monotonic()))

    topology.start(["otel-collector"])
    lost = [q for q in dashboard_queries([PIPELINE_BOARD]) if q.panel == SDK_LOSS_PANEL]
    assert len(lost) == 3  # spans, metric points, log records

    def losing_jobs() -> set[str]:
        return {
            r["metric"]["job"] for q in lost for r in stack.query(q.expr) if float(r["value"][1])
        }

    # Both served the traffic above; each reports at its next export (EXPORT_INTERVAL).
    gateway, hub = "otel-agents/otel-agents-gateway", "otel-agents/otel-agents-hub"
    eventually(losing_jobs, lambda found: {gateway, hub} <= found, "the SDKs' loss", 120)
    # The gateway's span exporter: the exception of a refused connection, as error.type.
    error_type = prometheus_label_name(semconv.ERROR_TYPE)
    failed = [r for r in stack.query(SDK_FAILURES[0]) if r["metric"]["job"] == gateway]
    assert "ConnectionError" in {r["metric"][error_type] for r in failed}
    alerts = eventually(
        lambda: stack.query(f'ALERTS{{alertname="{LOSING}",alertstate="firing"}}'),
        lambda found: gateway in {a["metric"]["service"] for a in found},
        LOSING,
        60,
    )
    assert {a["metric"]["severity"] for a in alerts} == {"warning"}


def test_the_services_stop_by_themselves_with_the_collector_gone(stack: Stack) -> None:
    """`docker compose stop` with the Collector gone: each service exits by itself on SIGTERM
    (drain 3 s + telemetry 5 s by default, inside Docker's 10 s), saying what it dropped;
    none has to be killed (the harness kills after 15 s)."""
    topology = stack.topology
    topology.stop("otel-collector")
    with _http.Client(base_url=stack.gateway) as client:
        assert [client.get("/v1/hub/healthz").status_code for _ in range(20)] == [200] * 20
    for name in SERVICES:
        assert topology.running(name), f"{name} died:\n{topology.processes[name].tail()}"
    took = topology.stop(*SERVICES)
    print(f"\nseconds from SIGTERM to exit, Collector down: {took}")
    assert topology.killed == set(), took
    assert "Not exported" in topology.processes["gateway"].output()
