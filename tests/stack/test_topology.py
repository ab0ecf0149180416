"""The compose stack, run for real: every service of ``docker-compose.yml`` as a local process.

The real Collector (built from ``collector/``), Jaeger v2, Prometheus with the bundled rules,
Alertmanager with its example webhook receiver, the hub, three agents, the gateway, the
demo, the NATS broker and two agents on it run with the commands, environment and config
files the compose file gives them (``_topology.py`` maps only host names, ports and mounted
paths). Then the user's view is checked through the real parts: the README's step-5 traffic,
one trace in Jaeger's query API, every panel query of every dashboard against Prometheus
(fed through the Collector by the services themselves), alert rules firing, alert log records
in the Collector's logs pipeline, the Collector's own metrics, an alert notified to the webhook
receiver and resolved, what a stopped Jaeger or Collector costs and fires, and what the
services' SDKs report they lost once the Collector is back.

Deliberate changes to what compose runs (``_stack_run.TIMINGS``), so that alerts
fire and notify within the test: the rule files lose their ``for`` hold times (minutes;
``tests/stack/test_promtool.py`` tests them), Prometheus scrapes and evaluates every 5 s
instead of 15 s, Alertmanager waits 1 s before a group's first notification and 5 s between
its updates (instead of 30 s / 10 s and 5 min), and the Collector gives up on an unreachable
Jaeger after 10 s of retries (instead of 5 min) and forgets a silent service's series after
60 s (instead of 5 min). And one size: the Collector's queue for Jaeger holds two batches and
has one consumer (instead of 1000 and 10), so that a stopped Jaeger fills it within the test.
"""

from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _contract import record_one_value_each
from _prometheus import in_ci
from _stack_run import (
    COORDINATOR,
    FETCH_TIMEOUT,
    Stack,
    eventually,
    shorten_timings,
    stack_binaries,
)
from _topology import REPO, Topology, image_tag, load_compose
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from stackgen import collector as oc
from stackgen.boards_pipeline import FAILURE_FAMILIES, SDK_FAILURES, SDK_LOSS_PANEL
from stackgen.queries import dashboard_queries

from otel_agents import semconv
from otel_agents._prometheus_names import collector_names, prometheus_label_name, prometheus_names

DATA_TIMEOUT = 180.0  # rates over [1m] at a 15 s scrape interval need a few scrapes

# The first test builds the stack (minutes on a cold machine), then waits for real scrapes:
# far longer than the default per-test timeout, still a bound.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(FETCH_TIMEOUT + 600.0)]
CONTRACT = "otel-agents-contract"  # the naming test's service and agent id
EXPECTED_FIRING = {"OtelAgentsLowHealthScore", "OtelAgentsAgentOffline"}
#: What a stopped Jaeger fires: the Collector's exports fail, its queue fills and overflows.
JAEGER_DOWN = {
    "OtelAgentsCollectorExportFailing",
    "OtelAgentsCollectorQueueNearlyFull",
    "OtelAgentsCollectorDroppingData",
}
SPAN_KINDS = {"server", "client", "producer", "consumer"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    binaries = stack_binaries()
    secret, signing_key = secrets.token_hex(16), secrets.token_hex(16)
    environ = {
        "OTEL_AGENTS_MESSAGING_SECRET": secret,
        "OTEL_AGENTS_MESSAGING_SIGNING_KEY": signing_key,
    }
    topology = Topology(tmp_path_factory.mktemp("compose"), binaries, environ, shorten_timings)
    started = time.monotonic()
    try:
        topology.start()
    except Exception:
        print(topology.report())
        topology.stop()
        raise
    print(f"\ncompose topology ready in {time.monotonic() - started:.1f}s")
    stack = Stack(topology, secret, signing_key)
    try:
        yield stack
    finally:
        if stack.probe is not None:
            stack.probe.shutdown()
        topology.stop()
        if in_ci():
            print(topology.report())


# -- the Collector -----------------------------------------------------------------------------
def test_the_shipped_collector_config_validates_and_its_health_endpoint_answers(
    stack: Stack,
) -> None:
    otelcol = stack.topology.binaries["otelcol"]
    validated = subprocess.run(
        [str(otelcol), "validate", "--config", str(REPO / "collector" / "otel-collector.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert validated.returncode == 0, validated.stderr
    health = httpx.get(stack.topology.url("otel-collector", 13133, "/"))
    assert health.status_code == 200
    assert health.json()["status"] == "Server available"


def test_the_binaries_are_the_releases_compose_pins(stack: Stack) -> None:
    services = load_compose()["services"]
    versions = {
        "otelcol": [str(stack.topology.binaries["otelcol"]), "--version"],
        "prometheus": [str(stack.topology.binaries["prometheus"]), "--version"],
        "alertmanager": [str(stack.topology.binaries["alertmanager"]), "--version"],
    }
    printed = {
        name: subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
        for name, argv in versions.items()
    }
    assert f"version {image_tag(services['otel-collector'])}" in printed["otelcol"].stdout
    prometheus = printed["prometheus"].stdout + printed["prometheus"].stderr
    assert f"version {image_tag(services['prometheus']).lstrip('v')}" in prometheus
    alertmanager = printed["alertmanager"].stdout + printed["alertmanager"].stderr
    assert f"version {image_tag(services['alertmanager']).lstrip('v')} " in alertmanager


def test_a_malformed_collector_config_is_refused_with_the_collectors_own_error(
    stack: Stack, tmp_path: Path
) -> None:
    shipped = (REPO / "collector" / "otel-collector.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text(shipped.replace("exporters: [prometheus]", "exporters: [prometheusx]"))
    refused = subprocess.run(
        [str(stack.topology.binaries["otelcol"]), "validate", "--config", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert 'references exporter "prometheusx" which is not configured' in refused.stderr


# -- what a user does first ----------------------------------------------------------------------
def readme_step_5() -> tuple[int, str]:
    """The request count and the URL path of the README's step-5 curl loop."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"for i in \$\(seq (\d+)\); do curl -s localhost:8080(/\S+) ", readme)
    assert found, "README step 5 no longer shows the curl loop this test runs"
    return int(found[1]), found[2]


def test_readme_step_5_traffic_through_the_gateway_gets_200s(stack: Stack) -> None:
    count, path = readme_step_5()
    with httpx.Client(base_url=stack.gateway) as client:
        statuses = [client.get(path).status_code for _ in range(count)]
        agents = [client.get("/v1/agents/healthz").status_code for _ in range(10)]
    assert statuses == [200] * count
    assert agents == [200] * 10


def test_one_gateway_request_is_one_trace_in_jaeger_across_every_process(stack: Stack) -> None:
    registration = {
        "agent_id": COORDINATOR,
        "name": "Coordinator",
        "capabilities": ["planning"],
        "endpoint": "http://127.0.0.1:1",
    }
    registered = httpx.post(
        stack.gateway + "/v1/hub/agents",
        json=registration,
        headers=stack.security.request_headers(COORDINATOR),
    )
    assert registered.status_code in (200, 201), registered.text
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    sent = stack.post_message("planner", through_gateway=True, headers={"traceparent": traceparent})
    assert sent.status_code == 202, sent.text

    def spans() -> list[dict[str, Any]]:
        response = httpx.get(f"{stack.jaeger}/api/traces/{trace_id}")
        if response.status_code != 200:
            return []
        (trace,) = response.json()["data"]
        processes = {k: p["serviceName"] for k, p in trace["processes"].items()}
        return [{**span, "service": processes[span["processID"]]} for span in trace["spans"]]

    wanted = {"otel-agents-gateway", "otel-agents-hub", "agent-planner", "agent-worker"}
    found = eventually(
        spans, lambda s: wanted <= {x["service"] for x in s} and len(s) >= 10, "the trace", 60
    )
    found = eventually(spans, lambda s: len(s) == len(found), "the trace to settle", 30)

    def kind(span: dict[str, Any]) -> str:
        return next((t["value"] for t in span["tags"] if t["key"] == "span.kind"), "internal")

    by_service: dict[str, set[tuple[str, str]]] = {}
    for span in found:
        by_service.setdefault(span["service"], set()).add((span["operationName"], kind(span)))
    assert ("POST /v1/hub/{path}", "server") in by_service["otel-agents-gateway"]
    assert ("POST", "client") in by_service["otel-agents-gateway"]
    assert ("route planner", "internal") in by_service["otel-agents-hub"]
    assert ("process planner", "consumer") in by_service["agent-planner"]
    assert ("send worker", "producer") in by_service["agent-planner"]
    assert ("process worker", "consumer") in by_service["agent-worker"]
    assert {kind(s) for s in found} >= SPAN_KINDS
    # Every span has its parent in the trace, but the gateway's, whose parent is the client's.
    ids = {s["spanID"] for s in found}
    orphans = [
        s["operationName"]
        for s in found
        if not any(r["spanID"] in ids for r in s["references"] if r["refType"] == "CHILD_OF")
    ]
    assert orphans == ["POST /v1/hub/{path}"]
    text = json.dumps(found)
    assert stack.secret not in text
    assert stack.signing_key not in text


def test_jaeger_lists_every_service_of_the_compose_file(stack: Stack) -> None:
    expected = {
        s["environment"]["OTEL_SERVICE_NAME"]
        for s in load_compose()["services"].values()
        if "OTEL_SERVICE_NAME" in (s.get("environment") or {})
    }
    assert len(expected) == 8
    # The NATS agents have no inbox to be called on: a message makes them trace something.
    sent = stack.send_nats("analyst")
    assert sent.returncode == 0, sent.stderr

    def services() -> set[str]:
        return set(httpx.get(stack.jaeger + "/api/services").json()["data"] or [])

    eventually(services, lambda s: expected <= s, "every compose service in Jaeger", 60)


def test_every_contract_metric_reaches_prometheus_through_the_collector_by_its_names(
    stack: Stack,
) -> None:
    """The naming contract on the Collector path, against the real Collector: one value for
    every metric of ``semconv.ALL_METRICS``, sent over OTLP, found under the series names
    ``collector_names`` predicts (and the direct-scrape names, which are the same)."""
    exporter = OTLPMetricExporter(endpoint=stack.collector_otlp + "/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=600_000)
    provider = MeterProvider([reader], resource=Resource.create({"service.name": CONTRACT}))
    specs = sorted(semconv.ALL_METRICS.values(), key=lambda spec: spec.name)
    record_one_value_each(
        provider.get_meter("tests.stack.contract"), specs, {semconv.GEN_AI_AGENT_ID: CONTRACT}
    )
    provider.force_flush()
    label = prometheus_label_name(semconv.GEN_AI_AGENT_ID)

    def missing() -> list[str]:
        return [
            f"{spec.name} -> {series}"
            for spec in specs
            for series in collector_names(spec).series
            if not stack.query(f'{series}{{{label}="{CONTRACT}"}}')
        ]

    try:
        eventually(missing, lambda names: names == [], "every contract series", 90)
    finally:
        provider.shutdown()
    assert all(collector_names(s) == prometheus_names(s) for s in specs)


# -- dashboards and alerts -----------------------------------------------------------------------
def provoke_every_panel(stack: Stack) -> None:
    """Traffic the dashboards show beyond what the services do by themselves: client errors,
    rate limiting, rejected and expired messages, a dead agent (upstream errors, 5xx, an
    unhealthy instance, an offline agent, failed forwards) and a low health score."""
    with httpx.Client(base_url=stack.gateway) as client:
        assert client.get("/v1/hub/no-such-route").status_code == 404
        burst = [client.get("/v1/agents/healthz").status_code for _ in range(40)]
        assert 429 in burst
    assert stack.post_message("worker", through_gateway=False, signed=False).status_code == 403
    expired = stack.post_message("worker", through_gateway=False, now=time.time() - 60, timeout=1)
    assert expired.status_code == 410, expired.text
    stack.topology.stop("agent-monitor", sig=signal.SIGKILL)
    for _ in range(3):  # the worker forwards to the dead monitor: failed deliveries
        assert stack.post_message("worker", through_gateway=False).status_code == 202
    with httpx.Client(base_url=stack.gateway) as client:
        for _ in range(30):
            client.get("/v1/agents/healthz")
    stack.push_health_score(12.0)


def test_every_panel_query_of_every_dashboard_returns_data(stack: Stack) -> None:
    provoke_every_panel(stack)
    queries = [
        q
        for q in dashboard_queries(sorted((REPO / "grafana" / "dashboards").glob("*.json")))
        # Failure series exist only after the faults (the last tests of this module).
        if not any(family in q.expr for family in FAILURE_FAMILIES) and q.panel != SDK_LOSS_PANEL
    ]
    assert len(queries) > 50
    pending = {q.expr: q for q in queries}
    deadline = time.monotonic() + DATA_TIMEOUT
    while pending and time.monotonic() < deadline:
        for expr in list(pending):
            if stack.query(expr):
                del pending[expr]
        if pending:
            # The dead agent keeps failing the gateway's requests to it (5xx, upstream errors).
            with httpx.Client(base_url=stack.gateway) as client:
                for _ in range(5):
                    client.get("/v1/agents/healthz")
            time.sleep(3.0)
    missing = [f"{q.dashboard} / {q.panel}: {q.expr}" for q in pending.values()]
    assert missing == [], "\n".join(missing)


def test_the_health_score_and_offline_agent_rules_fire(stack: Stack) -> None:
    eventually(stack.firing, lambda names: names >= EXPECTED_FIRING, "the alerts to fire", 120)
    rules = httpx.get(stack.prometheus + "/api/v1/rules").json()["data"]["groups"]
    loaded = {r["name"] for group in rules for r in group["rules"]}
    generated = (REPO / "prometheus" / "rules" / "otel-agents.rules.yml").read_text()
    assert loaded == set(re.findall(r"- alert: (\S+)", generated))


def test_alert_log_records_reach_the_collectors_logs_pipeline_with_trace_ids(
    stack: Stack,
) -> None:
    collector = stack.topology.processes["otel-collector"]

    def records() -> list[str]:
        blocks = collector.output().split("LogRecord #")[1:]
        return [b for b in blocks if f"EventName: {semconv.ALERT_EVENT}" in b]

    found = eventually(records, bool, "an alert log record in the Collector's output", 60)
    record = found[0]
    trace_id = re.search(r"Trace ID: *([0-9a-f]*)", record)
    span_id = re.search(r"Span ID: *([0-9a-f]*)", record)
    assert trace_id
    assert span_id
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id[1])
    assert set(trace_id[1]) != {"0"}
    assert re.fullmatch(r"[0-9a-f]{16}", span_id[1])
    assert stack.secret not in collector.output()


# -- span metrics, Jaeger's Monitor tab, the log store ---------------------------------------------
GATEWAY_SERVICE = "otel-agents-gateway"


def test_span_metrics_of_the_real_collector_have_the_names_and_labels_the_boards_use(
    stack: Stack,
) -> None:
    """The spanmetrics connector's series, by the names derived from ``semconv`` (what the
    Services board selects), with their dimensions as labels and trace ids as exemplars."""
    calls = prometheus_names(semconv.SPAN_METRICS_CALLS).metric
    buckets = prometheus_names(semconv.SPAN_METRICS_DURATION).series[0]
    service = prometheus_label_name(semconv.SERVICE_NAME)
    selector = f'{{{service}="{GATEWAY_SERVICE}"}}'
    found = eventually(
        lambda: stack.query(calls + selector), bool, "span metrics of the gateway", DATA_TIMEOUT
    )
    labels = set(found[0]["metric"])
    dimensions = (semconv.SPAN_NAME, semconv.SPAN_KIND, semconv.STATUS_CODE)
    assert {prometheus_label_name(key) for key in dimensions} <= labels
    assert found[0]["metric"]["job"].endswith("/" + GATEWAY_SERVICE)  # the service variable
    assert stack.query(buckets + selector)
    assert collector_names(semconv.SPAN_METRICS_DURATION).series[0] == buckets

    def exemplars() -> list[dict[str, Any]]:
        now = time.time()
        response = httpx.get(
            stack.prometheus + "/api/v1/query_exemplars",
            params={"query": buckets + selector, "start": now - 600, "end": now},
        )
        response.raise_for_status()
        return [e for series in response.json()["data"] for e in series["exemplars"]]

    found_exemplars = eventually(exemplars, bool, "exemplars on the span duration", 60)
    assert re.fullmatch(r"[0-9a-f]{32}", found_exemplars[0]["labels"]["trace_id"])


def test_jaegers_monitor_tab_reads_the_span_metrics_from_prometheus(stack: Stack) -> None:
    """Jaeger's metrics API (what its Monitor tab draws) answers from the span metrics."""

    def call_rates() -> list[float]:
        response = httpx.get(
            stack.jaeger + "/api/metrics/calls",
            params={
                "service": GATEWAY_SERVICE,
                "endTs": int(time.time() * 1000),
                "lookback": 600_000,
                "step": 15_000,
                "ratePer": 60_000,
                "spanKind": "server",
            },
        )
        response.raise_for_status()
        return [
            float(point["gaugeValue"]["doubleValue"])
            for metric in response.json()["metrics"]
            for point in metric["metricPoints"]
            if isinstance(point.get("gaugeValue", {}).get("doubleValue"), int | float)
        ]

    rates = eventually(call_rates, lambda r: any(v > 0 for v in r), "Jaeger call rates", 90)
    assert max(rates) > 0


def test_alert_log_records_are_stored_in_victorialogs_and_found_by_their_trace_id(
    stack: Stack,
) -> None:
    """The Collector's logs pipeline writes to VictoriaLogs: an alert record is there, with
    its trace id as a field (what Grafana's link to Jaeger uses), and no secret is."""
    store = stack.topology.url("victorialogs", 9428)

    def query(logsql: str) -> list[dict[str, Any]]:
        response = httpx.post(store + "/select/logsql/query", data={"query": logsql})
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def alerts() -> list[dict[str, Any]]:
        return [r for r in query("*") if semconv.ALERT_LEVEL in r and r.get("trace_id")]

    found = eventually(alerts, bool, "an alert record in VictoriaLogs", 90)
    trace_id = found[0]["trace_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
    by_trace = query(f'trace_id:="{trace_id}"')
    assert by_trace
    assert all(r["trace_id"] == trace_id for r in by_trace)
    assert found[0]["service.name"]
    everything = json.dumps(query("*"))
    assert stack.secret not in everything
    assert stack.signing_key not in everything


# -- the pipeline watched, alerts notified --------------------------------------------------
def test_the_collectors_own_metrics_have_the_names_the_pipeline_board_and_rules_use(
    stack: Stack,
) -> None:
    def missing() -> list[str]:
        return [n for n in oc.all_names() if not stack.query(f'{n}{{job="{oc.JOB}"}}')]

    eventually(missing, lambda names: names == [], "every Collector metric name", 60)


def test_a_firing_rule_notifies_the_webhook_once_and_resolves_when_made_false(
    stack: Stack,
) -> None:
    """The monitor agent, killed while proving the panels, stopped exporting: the rule fires,
    Alertmanager notifies the example webhook receiver once with the labels and annotations a
    person needs; started again, the agent exports and the alert resolves, once."""
    rule = "OtelAgentsServiceStoppedExporting"
    job = "otel-agents/agent-monitor"
    (first,) = eventually(
        lambda: stack.notified(rule, "firing", job=job), bool, "the webhook notification", 120
    )
    (alert,) = [a for a in first["alerts"] if a["labels"]["alertname"] == rule]
    assert first["groupLabels"] == {"service": job, "severity": "warning"}
    assert alert["labels"] == {
        "alertname": rule,
        "job": job,
        "service": job,
        "severity": "warning",
    }
    assert alert["annotations"]["summary"] == f"{job} stopped exporting telemetry"
    assert job in alert["annotations"]["description"]
    runbook = alert["annotations"]["runbook_url"]
    assert runbook == "docs/runbook.md#otelagentsservicestoppedexporting"
    assert f"\n## {rule}\n" in (REPO / "docs" / "runbook.md").read_text(encoding="utf-8")
    time.sleep(15.0)  # three group intervals: an unchanged group is not notified again
    assert len(stack.notified(rule, "firing", job=job)) == 1

    stack.topology.start(["agent-monitor"])
    eventually(
        lambda: stack.notified(rule, "resolved", job=job), bool, "the resolved notification", 120
    )
    time.sleep(10.0)
    assert len(stack.notified(rule, "resolved", job=job)) == 1
    assert len(stack.notified(rule, "firing", job=job)) == 1


# -- faults: telemetry is lost, the user's work is not --------------------------------------
PIPELINE_BOARD = REPO / "grafana" / "dashboards" / "otel-agents-pipeline.json"
#: The services that keep running through the faults (their work must go on).
SERVICES = ("gateway", "hub", "agent-planner", "agent-worker", "demo")
LOSING = "OtelAgentsServiceLosingTelemetry"


def test_a_stopped_jaeger_costs_telemetry_only_and_alerts(stack: Stack) -> None:
    """Stopping Jaeger fails the Collector's trace exports and fills its queue (the
    :data:`JAEGER_DOWN` rules fire, the Pipeline board's failure panel has data); the
    services' work goes on."""
    topology = stack.topology
    topology.stop("jaeger")
    with httpx.Client(base_url=stack.gateway) as client:
        assert [client.get("/v1/hub/healthz").status_code for _ in range(20)] == [200] * 20
    for alertname in sorted(JAEGER_DOWN):  # each fires; the queue's may flap as it drains
        alerts = eventually(
            lambda name=alertname: stack.query(f'ALERTS{{alertname="{name}",alertstate="firing"}}'),
            bool,
            alertname,
            120,
        )
        assert {a["metric"]["exporter"] for a in alerts} == {"otlp_grpc/jaeger"}
        assert {a["metric"]["service"] for a in alerts} == {"otel-collector"}
    failures = [
        q
        for q in dashboard_queries([PIPELINE_BOARD])
        if any(family in q.expr for family in FAILURE_FAMILIES)
    ]
    assert failures
    assert [q.panel for q in failures if not stack.query(q.expr)] == []


def test_a_stopped_collector_alerts_and_the_sdks_report_their_loss_once_it_is_back(
    stack: Stack,
) -> None:
    """Stopping the Collector fires OtelAgentsCollectorDown, which reaches the webhook; the
    services' work goes on while their SDKs fail to export. Started again, the Collector
    receives what the SDKs counted meanwhile (``otel.sdk.*`` with ``error.type``): the
    Pipeline board's "Lost by the SDKs" panel has data for the services, and
    OtelAgentsServiceLosingTelemetry fires for them."""
    topology = stack.topology
    assert topology.running("otel-collector")
    topology.stop("otel-collector")
    with httpx.Client(base_url=stack.gateway) as client:
        assert [client.get("/v1/hub/healthz").status_code for _ in range(20)] == [200] * 20
    assert stack.post_message("planner", through_gateway=True).status_code == 202
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
    # Spans of this traffic fail to export (the OTLP exporter gives up after its timeout),
    # and every 5 s export of metric points fails: the SDKs count both.
    with httpx.Client(base_url=stack.gateway) as client:
        assert [client.get("/v1/hub/healthz").status_code for _ in range(20)] == [200] * 20
    time.sleep(15.0)

    topology.start(["otel-collector"])
    lost = [q for q in dashboard_queries([PIPELINE_BOARD]) if q.panel == SDK_LOSS_PANEL]
    assert len(lost) == 3  # spans, metric points, log records

    def losing_jobs() -> set[str]:
        return {
            r["metric"]["job"] for q in lost for r in stack.query(q.expr) if float(r["value"][1])
        }

    # Both served the traffic above; each reports at its next export (every 5 s).
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
    with httpx.Client(base_url=stack.gateway) as client:
        assert [client.get("/v1/hub/healthz").status_code for _ in range(20)] == [200] * 20
    for name in SERVICES:
        assert topology.running(name), f"{name} died:\n{topology.processes[name].tail()}"
    took = topology.stop(*SERVICES)
    print(f"\nseconds from SIGTERM to exit, Collector down: {took}")
    assert topology.killed == set(), took
    assert "Not exported" in topology.processes["gateway"].output()
