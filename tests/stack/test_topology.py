"""The compose stack, run for real: every service of ``docker-compose.yml`` as a local process.

The real Collector (built from ``collector/``), Jaeger v2, Prometheus with the bundled rules,
Alertmanager with its example webhook receiver, the hub, three agents, the gateway, the
demo, the NATS broker and two agents on it run with the commands, environment and config
files the compose file gives them (``_topology.py`` maps only host names, ports and mounted
paths). Then the user's view is checked through the real parts: the README's step-5 traffic,
one trace in Jaeger's query API, every panel query of every dashboard against Prometheus
(fed through the Collector by the services themselves), alert rules firing, alert log records
in the Collector's logs pipeline, the Collector's own metrics, an alert notified to the webhook
receiver and resolved, and what a stopped Jaeger costs and fires (while the Collector forgets
the killed monitor's series). What a stopped Collector costs and fires, what the
services' SDKs report they lost once it is back, and how the services stop without it, is
``test_topology_faults.py``, on a stack of its own (the same runs,
:func:`_stack_run.running_stack`): the two modules then run in parallel under ``pytest -n``,
each within a minute.

Deliberate changes to what compose runs (``_stack_run.TIMINGS`` for the mounted configs,
``_stack_run.ENVIRONMENT`` for the services' variables, ``_stack_run.HEARTBEAT_INTERVAL`` for
their commands), in this module and in
``test_topology_faults.py``, so that alerts fire and notify within the test and the test
waits only as long as the real parts need:

* the rule files lose their ``for`` hold times (minutes; ``tests/stack/test_promtool.py``
  tests them);
* Prometheus scrapes and evaluates every ``SCRAPE_INTERVAL`` (2 s) instead of 15 s, and
  Alertmanager waits ``GROUP_INTERVAL`` (1 s) before a group's first notification and
  between its updates (instead of 30 s / 10 s and 5 min);
* the otel-agents services export metrics every ``EXPORT_INTERVAL`` (2 s, compose: 5 s) and
  hand spans and log records to their exporters within ``BATCH_DELAY`` (1 s,
  ``OTEL_BSP_SCHEDULE_DELAY``/``OTEL_BLRP_SCHEDULE_DELAY``; the SDK's default: 5 s); their
  exporters' own timeouts stay the SDK's;
* the Collector retries an unreachable Jaeger every second and gives up after
  ``RETRY_ELAPSED`` (3 s) instead of 5 min, flushes span metrics every ``SCRAPE_INTERVAL``
  (instead of 15 s), forgets a silent service's series after ``METRIC_EXPIRATION`` (10 s,
  five exports; instead of 5 min), and its span-metrics connector drops a span series no
  span updated for ``SPAN_METRICS_EXPIRATION`` (4 s, two flushes; instead of 5 min): a
  stopped service's ``target_info`` lives as long as any of its series, its span series
  included, so OtelAgentsServiceStoppedExporting waits for both after its last span (the
  span-metrics test has the gateway serve requests right before it reads its span series);
* the hub and its three agents beat every ``HEARTBEAT_INTERVAL`` (2 s) instead of 10 s
  (``--heartbeat-interval`` in their commands): a killed agent is offline after the hub's
  three missed beats in 6-8 s instead of 30-40 s;
* one size: the Collector's queue for Jaeger holds two batches and has one consumer (instead
  of 1000 and 10), so that a stopped Jaeger fills it within the test.

And one fidelity fix: Jaeger traces its own queries to the OTLP default, ``localhost:4317``,
which in its container is its own receiver; here it is mapped to that receiver too
(``_topology.ImageRuntime.implicit_env``), so a stopping Jaeger does not wait to flush to a
port nothing listens on.

Waits end as soon as their condition holds; only their bounds are generous. Where the test
proves that something does *not* happen (a second notification), it watches for ``NOT_AGAIN``,
five group intervals, counted from when the test saw the notification (when it went out is
not known; seeing it is the latest it can have been). The agent-monitor is killed as soon as
the tests that need it alive are done (every service is in Jaeger): its absence (failed
forwards, 5xx, then after the hub's three missed heartbeats an offline agent, and after the
Collector's expirations a service that stopped exporting) takes the longest to show. Once
that is notified, the stopped-Jaeger test runs while the first ``NOT_AGAIN`` passes (it
leaves the monitor's alert group alone), and what follows (not again, resolved) comes last.
Processes stop as ``docker compose stop`` stops them: dependants first, those of one wave in
parallel (``Topology.stop``).
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

import _http
import pytest
from _contract import record_one_value_each
from _images import REPO, image_tag, load_compose
from _stack_run import (
    FETCH_TIMEOUT,
    GROUP_INTERVAL,
    SCRAPE_INTERVAL,
    Stack,
    eventually,
    running_stack,
)
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from stackgen import collector as oc
from stackgen.boards_pipeline import FAILURE_FAMILIES, SDK_LOSS_PANEL
from stackgen.queries import dashboard_queries

from otel_agents import semconv
from otel_agents._prometheus_names import collector_names, prometheus_label_name, prometheus_names

DATA_TIMEOUT = 180.0  # rates over [1m] need two scrapes (on a loaded machine: a bound)
#: How long an unchanged alert group is watched for a second notification: several group
#: intervals (Alertmanager would send one at the end of any of them).
NOT_AGAIN = 5 * GROUP_INTERVAL

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
    with running_stack(tmp_path_factory.mktemp("compose")) as stack:
        yield stack


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
    health = _http.get(stack.topology.url("otel-collector", 13133, "/"))
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
    with _http.Client(base_url=stack.gateway) as client:
        statuses = [client.get(path).status_code for _ in range(count)]
        agents = [client.get("/v1/agents/healthz").status_code for _ in range(10)]
    assert statuses == [200] * count
    assert agents == [200] * 10


def test_one_gateway_request_is_one_trace_in_jaeger_across_every_process(stack: Stack) -> None:
    registered = stack.register_coordinator()
    assert registered.status_code in (200, 201), registered.text
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    sent = stack.post_message("planner", through_gateway=True, headers={"traceparent": traceparent})
    assert sent.status_code == 202, sent.text

    def spans() -> list[dict[str, Any]]:
        response = _http.get(f"{stack.jaeger}/api/traces/{trace_id}")
        if response.status_code != 200:
            return []
        (trace,) = response.json()["data"]
        processes = {k: p["serviceName"] for k, p in trace["processes"].items()}
        return [{**span, "service": processes[span["processID"]]} for span in trace["spans"]]

    def kind(span: dict[str, Any]) -> str:
        return next((t["value"] for t in span["tags"] if t["key"] == "span.kind"), "internal")

    # Each process exports on its own schedule: wait for the spans this test names, not for
    # the trace's size to hold still (a late batch from the last agent would then be missed).
    wanted = {
        ("otel-agents-gateway", "POST /v1/hub/{path}", "server"),
        ("otel-agents-gateway", "POST", "client"),
        ("otel-agents-hub", "route planner", "internal"),
        ("agent-planner", "process planner", "consumer"),
        ("agent-planner", "send worker", "producer"),
        ("agent-worker", "process worker", "consumer"),
    }

    def seen(found: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(x["service"], x["operationName"], kind(x)) for x in found}

    def orphans(found: list[dict[str, Any]]) -> list[str]:
        ids = {s["spanID"] for s in found}
        return [
            s["operationName"]
            for s in found
            if not any(r["spanID"] in ids for r in s["references"] if r["refType"] == "CHILD_OF")
        ]

    # Every span has its parent in the trace, but the gateway's, whose parent is the client's.
    # A parent exported in a later batch than its child (the hub's client span, the inbox's
    # server span after it) is waited for: the trace is whole when no other span is an orphan.
    found = eventually(
        spans,
        lambda s: wanted <= seen(s) and len(s) >= 10 and orphans(s) == ["POST /v1/hub/{path}"],
        "the trace with every named span and every parent",
        90,
    )
    assert {kind(s) for s in found} >= SPAN_KINDS
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
        return set(_http.get(stack.jaeger + "/api/services").json()["data"] or [])

    eventually(services, lambda s: expected <= s, "every compose service in Jaeger", 90)
    # Every service has traced: the monitor's fault may start (its effects take a while).
    kill_the_monitor(stack)


def kill_the_monitor(stack: Stack) -> None:
    """SIGKILL the monitor agent (a dead agent: failed forwards and gateway requests, then,
    after the hub's missed heartbeats and the Collector's expiration, an offline agent and a
    service that stopped exporting). Started as soon as the tests that need it alive are done:
    its effects take the longest to show; the panel and webhook tests, which need it dead,
    kill it if they run alone."""
    stack.topology.stop("agent-monitor", sig=signal.SIGKILL)


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


# -- span metrics and Jaeger's Monitor tab, while Jaeger runs -------------------------------------
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
    # Requests the gateway serves now: the test's Collector forgets span series
    # SPAN_METRICS_EXPIRATION + METRIC_EXPIRATION after their last span (shipped: 10 min).
    with _http.Client(base_url=stack.gateway) as client:
        assert [client.get("/v1/hub/healthz").status_code for _ in range(5)] == [200] * 5
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
        response = _http.get(
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
        response = _http.get(
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


# -- dashboards and alerts -------------------------------------------------------------------------
def provoke_every_panel(stack: Stack) -> None:
    """Traffic the dashboards show beyond what the services do by themselves: client errors,
    rate limiting, rejected and expired messages, a dead agent (upstream errors, 5xx, an
    unhealthy instance, an offline agent, failed forwards) and a low health score."""
    with _http.Client(base_url=stack.gateway) as client:
        assert client.get("/v1/hub/no-such-route").status_code == 404
        burst = [client.get("/v1/agents/healthz").status_code for _ in range(40)]
        assert 429 in burst
    assert stack.post_message("worker", through_gateway=False, signed=False).status_code == 403
    expired = stack.post_message("worker", through_gateway=False, now=time.time() - 60, timeout=1)
    assert expired.status_code == 410, expired.text
    kill_the_monitor(stack)
    for _ in range(3):  # the worker forwards to the dead monitor: failed deliveries
        assert stack.post_message("worker", through_gateway=False).status_code == 202
    with _http.Client(base_url=stack.gateway) as client:
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
            with _http.Client(base_url=stack.gateway) as client:
                for _ in range(5):
                    client.get("/v1/agents/healthz")
            time.sleep(SCRAPE_INTERVAL)
    missing = [f"{q.dashboard} / {q.panel}: {q.expr}" for q in pending.values()]
    assert missing == [], "\n".join(missing)


def test_the_health_score_and_offline_agent_rules_fire(stack: Stack) -> None:
    eventually(stack.firing, lambda names: names >= EXPECTED_FIRING, "the alerts to fire", 120)
    rules = _http.get(stack.prometheus + "/api/v1/rules").json()["data"]["groups"]
    loaded = {r["name"] for group in rules for r in group["rules"]}
    generated = (REPO / "prometheus" / "rules" / "otel-agents.rules.yml").read_text()
    assert loaded == set(re.findall(r"- alert: (\S+)", generated))


# -- an alert notified to the webhook --------------------------------------------------------------
STOPPED = "OtelAgentsServiceStoppedExporting"
MONITOR_JOB = "otel-agents/agent-monitor"


@pytest.fixture(scope="module")
def stopped_notified() -> dict[str, Any]:
    """The webhook's first notification of the killed monitor's :data:`STOPPED` and when the
    test saw it (:func:`first_stopped_notification`), for both tests about it."""
    return {}


def first_stopped_notification(stack: Stack, seen: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """The one firing notification of :data:`STOPPED` for the monitor, waited for once, and
    the time it was here at the latest (when it went out is not known)."""
    if "notification" not in seen:
        kill_the_monitor(stack)  # already dead unless this test runs alone
        (first,) = eventually(
            lambda: stack.notified(STOPPED, "firing", job=MONITOR_JOB),
            bool,
            "the webhook notification",
            120,
        )
        seen.update(notification=first, at=time.time())
    return seen["notification"], seen["at"]


def test_a_stopped_service_is_notified_to_the_webhook_with_what_a_person_needs(
    stack: Stack, stopped_notified: dict[str, Any]
) -> None:
    """The monitor agent, killed once every service was in Jaeger, stopped exporting: the
    rule fires and Alertmanager notifies the example webhook receiver with the labels and
    annotations a person needs."""
    first, _seen = first_stopped_notification(stack, stopped_notified)
    (alert,) = [a for a in first["alerts"] if a["labels"]["alertname"] == STOPPED]
    assert first["groupLabels"] == {"service": MONITOR_JOB, "severity": "warning"}
    assert alert["labels"] == {
        "alertname": STOPPED,
        "job": MONITOR_JOB,
        "service": MONITOR_JOB,
        "severity": "warning",
    }
    assert alert["annotations"]["summary"] == f"{MONITOR_JOB} stopped exporting telemetry"
    assert MONITOR_JOB in alert["annotations"]["description"]
    runbook = alert["annotations"]["runbook_url"]
    assert runbook == "docs/runbook.md#otelagentsservicestoppedexporting"
    assert f"\n## {STOPPED}\n" in (REPO / "docs" / "runbook.md").read_text(encoding="utf-8")


# -- a stopped Jaeger (the notified group stays unchanged), the log store --------------------------
PIPELINE_BOARD = REPO / "grafana" / "dashboards" / "otel-agents-pipeline.json"


def test_a_stopped_jaeger_costs_telemetry_only_and_alerts(stack: Stack) -> None:
    """Stopping Jaeger fails the Collector's trace exports and fills its queue (the
    :data:`JAEGER_DOWN` rules fire, the Pipeline board's failure panel has data); the
    services' work goes on."""
    topology = stack.topology
    topology.stop("jaeger")
    with _http.Client(base_url=stack.gateway) as client:
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


def test_alert_log_records_are_stored_in_victorialogs_and_found_by_their_trace_id(
    stack: Stack,
) -> None:
    """The Collector's logs pipeline writes to VictoriaLogs: an alert record is there, with
    its trace id as a field (what Grafana's link to Jaeger uses), and no secret is."""
    store = stack.topology.url("victorialogs", 9428)

    def query(logsql: str) -> list[dict[str, Any]]:
        response = _http.post(store + "/select/logsql/query", data={"query": logsql})
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


def test_the_collectors_own_metrics_have_the_names_the_pipeline_board_and_rules_use(
    stack: Stack,
) -> None:
    def missing() -> list[str]:
        return [n for n in oc.all_names() if not stack.query(f'{n}{{job="{oc.JOB}"}}')]

    eventually(missing, lambda names: names == [], "every Collector metric name", 60)


# -- the notified alert: not notified again, then resolved once ------------------------------------
def test_a_notified_alert_is_not_notified_again_and_resolves_once_when_made_false(
    stack: Stack, stopped_notified: dict[str, Any]
) -> None:
    """The monitor's :data:`STOPPED` group, unchanged since its notification (the tests in
    between leave the monitor dead), is not notified again; started again, the agent exports
    and the alert resolves, notified once."""
    _first, seen = first_stopped_notification(stack, stopped_notified)
    # An unchanged group is not notified again: watched for NOT_AGAIN after the first
    # notification (when it went out is not known, only that it was here at ``seen``).
    time.sleep(max(0.0, seen + NOT_AGAIN - time.time()))
    assert len(stack.notified(STOPPED, "firing", job=MONITOR_JOB)) == 1

    stack.topology.start(["agent-monitor"])
    eventually(
        lambda: stack.notified(STOPPED, "resolved", job=MONITOR_JOB),
        bool,
        "the resolved notification",
        120,
    )
    time.sleep(NOT_AGAIN)
    assert len(stack.notified(STOPPED, "resolved", job=MONITOR_JOB)) == 1
    assert len(stack.notified(STOPPED, "firing", job=MONITOR_JOB)) == 1
