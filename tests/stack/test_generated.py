"""The committed dashboards, alert rules and rule tests are exactly what the generator writes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import generate
from _stack import REPO, load_yaml
from stackgen import collector, sdk
from stackgen.boards_services import SPAN_METRICS_TAG
from stackgen.dashboards import JAEGER_UID, PROMETHEUS_UID
from stackgen.panels import BOARDS
from stackgen.queries import dashboard_queries
from stackgen.rules import RULES
from stackgen.scope import SERVICE_MATCHER, scoped

from otel_agents._prometheus_names import prometheus_names
from otel_agents.semconv import ALL_METRICS, SPAN_METRICS_CALLS, SPAN_METRICS_DURATION

DASHBOARDS = REPO / "grafana" / "dashboards"
# Everything in PromQL that is not a metric name: functions, keywords, and Prometheus's own
# series (ALERTS, up) and target_info, which every OpenTelemetry service has.
_STRINGS = re.compile(r'"[^"]*"')
_GROUPS = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right"}
_PROMETHEUS_SERIES = {"ALERTS", "up", "target_info"}


def _metric_names(expr: str) -> set[str]:
    """The series names an expression selects (functions, labels and keywords removed)."""
    stripped = _GROUPS.sub(" ", _STRINGS.sub(" ", expr))
    return {
        match.group(1)
        for match in _IDENTIFIER.finditer(stripped)
        if not match.group(2) and match.group(1) not in _KEYWORDS
    }


def _derived_series() -> set[str]:
    sdk_specs = (spec for signal in sdk.SIGNALS for spec in signal.specs())
    specs = (*ALL_METRICS.values(), SPAN_METRICS_CALLS, SPAN_METRICS_DURATION, *sdk_specs)
    return {name for spec in specs for name in prometheus_names(spec).series}


def _dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))]


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_committed_files_equal_the_generated_output(tmp_path: Path) -> None:
    written = generate.write(tmp_path)

    assert written, "the generator wrote nothing"
    for path in written:
        relative = path.relative_to(tmp_path)
        committed = REPO / relative
        assert committed.exists(), f"{relative} is not committed: run scripts/generate-stack"
        assert committed.read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), (
            f"{relative} differs from the generator's output: run scripts/generate-stack"
        )


def test_the_dashboards_folder_holds_only_generated_dashboards() -> None:
    expected = {board.file_name for board in BOARDS}

    assert {path.name for path in DASHBOARDS.glob("*.json")} == expected


def test_every_dashboard_and_rule_selects_only_derived_series_names() -> None:
    collector_series = {*collector.all_names(), *collector.failure_names()}
    allowed = _derived_series() | _PROMETHEUS_SERIES | collector_series
    exprs = [q.expr for q in dashboard_queries(DASHBOARDS.glob("*.json"))]
    rules = load_yaml("prometheus/rules/otel-agents.rules.yml")
    exprs += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]

    unknown = {name for expr in exprs for name in _metric_names(expr)} - allowed

    assert exprs
    assert unknown == set()


def test_every_metric_of_the_contract_is_on_a_dashboard() -> None:
    """A metric added to otel_agents.semconv needs a panel (grafana/stackgen) to pass."""
    selected = {
        name
        for query in dashboard_queries(DASHBOARDS.glob("*.json"))
        for name in _metric_names(query.expr)
    }

    missing = [
        spec.name
        for spec in ALL_METRICS.values()
        if not set(prometheus_names(spec).series) & selected
    ]

    assert missing == []


def test_the_name_scanner_finds_the_series_of_a_query() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, a_b) (rate(x_bucket{a_b=~"c"}[5m]))) > 2'

    assert _metric_names(expr) == {"x_bucket"}


def test_every_query_uses_the_datasource_variable_not_a_fixed_uid() -> None:
    """A board imported into another Grafana queries the Prometheus the user picks."""
    chosen = {"type": "prometheus", "uid": "${datasource}"}
    for dashboard in _dashboards():
        (datasource,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
        assert (datasource["name"], datasource["query"]) == ("datasource", "prometheus")
        for panel in _panels(dashboard):
            assert panel["datasource"] == chosen
            assert all(t["datasource"] == chosen for t in panel["targets"])
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                assert variable["datasource"] == chosen
        assert f'"uid": "{PROMETHEUS_UID}"' not in json.dumps(dashboard)


def test_every_board_has_environment_and_service_variables_and_links_to_the_others() -> None:
    for dashboard in _dashboards():
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        environment, service = variables["environment"], variables["service"]
        assert environment["query"]["query"] == (
            "label_values(target_info, deployment_environment_name)"
        )
        assert environment["allValue"] == ".*"  # a service without the attribute still shows
        assert service["query"]["query"] == (
            'label_values(target_info{deployment_environment_name=~"$environment"}, job)'
        )
        assert "allValue" not in service  # "All" = the services listed for the environments
        assert variables["jaeger_url"]["type"] == "textbox"
        (link,) = dashboard["links"]
        assert (link["type"], link["tags"], link["includeVars"], link["keepTime"]) == (
            "dashboards",
            ["otel-agents"],
            True,
            True,
        )
        assert "otel-agents" in dashboard["tags"]


def test_every_otel_agents_series_in_a_panel_query_is_filtered_by_the_service_variable() -> None:
    derived = _derived_series()
    for dashboard in _dashboards():
        for panel in _panels(dashboard):
            for target in panel["targets"]:
                for name in _metric_names(target["expr"]) & derived:
                    occurrences = re.findall(rf"\b{name}\b(\{{[^}}]*\}})?", target["expr"])
                    assert occurrences
                    assert all(SERVICE_MATCHER in o for o in occurrences), target["expr"]


def test_scoped_adds_the_service_matcher_to_derived_series_only() -> None:
    assert scoped('sum(rate(agent_requests_total{gen_ai_agent_id=~"$agent"}[1m]))') == (
        'sum(rate(agent_requests_total{job=~"$service",gen_ai_agent_id=~"$agent"}[1m]))'
    )
    assert scoped("max(agent_health_score) or vector(0)") == (
        'max(agent_health_score{job=~"$service"}) or vector(0)'
    )
    assert scoped('ALERTS{alertstate="firing"}') == 'ALERTS{alertstate="firing"}'
    assert scoped('x{a="agent_health_score"}') == 'x{a="agent_health_score"}'


def test_the_health_score_panels_are_0_to_100_with_the_alert_levels_colours() -> None:
    system = json.loads((DASHBOARDS / "otel-agents-system.json").read_text())
    health = [p for p in _panels(system) if "health score" in p["title"].lower()]
    assert len(health) == 2
    for panel in health:
        defaults = panel["fieldConfig"]["defaults"]
        assert (defaults["min"], defaults["max"]) == (0, 100)
        assert defaults["thresholds"]["steps"] == [
            {"value": None, "color": "red"},  # OtelAgentsLowHealthScore fires below 50
            {"value": 50, "color": "yellow"},
            {"value": 80, "color": "green"},
        ]


def test_no_panel_mixes_units_and_cpu_time_is_not_shown_as_seconds() -> None:
    system = {
        p["title"]: p
        for p in _panels(json.loads((DASHBOARDS / "otel-agents-system.json").read_text()))
    }
    assert system["Process CPU time"]["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert system["Process virtual memory"]["fieldConfig"]["defaults"]["unit"] == "bytes"
    assert system["Process threads"]["fieldConfig"]["defaults"]["unit"] == "short"
    assert "Process virtual memory and threads" not in system


def test_exemplars_are_asked_only_of_histogram_buckets() -> None:
    asked = [
        (t["exemplar"], "_bucket" in t["expr"])
        for dashboard in _dashboards()
        for panel in _panels(dashboard)
        for t in panel["targets"]
        if panel["type"] == "timeseries"
    ]
    assert asked
    assert all(exemplar == bucket for exemplar, bucket in asked)
    assert (True, True) in asked


def test_the_span_latency_panel_links_to_jaeger_by_service_and_operation() -> None:
    services = json.loads((DASHBOARDS / "otel-agents-services.json").read_text())
    assert SPAN_METRICS_TAG in services["tags"]
    (latency,) = [p for p in _panels(services) if p["fieldConfig"]["defaults"]["unit"] == "ms"]
    (link,) = latency["fieldConfig"]["defaults"]["links"]
    assert link["url"] == (
        "${jaeger_url}/search?service=${__field.labels.service_name}"
        "&operation=${__field.labels.span_name}"
    )
    assert {p["repeat"] for p in _panels(services)} == {"span_service"}


def test_the_performance_dashboard_filters_every_agent_query_by_its_template_variable() -> None:
    dashboard = json.loads((DASHBOARDS / "otel-agents-performance.json").read_text())
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "agent"]
    agent_label = "gen_ai_agent_id"

    assert variable["name"] == "agent"
    assert variable["query"]["query"] == (
        f'label_values(agent_response_duration_seconds_count{{job=~"$service"}}, {agent_label})'
    )
    agent_exprs = [
        t["expr"]
        for panel in dashboard["panels"]
        for t in panel.get("targets", [])
        if agent_label in t["expr"]
    ]
    assert agent_exprs
    assert all(f'{agent_label}=~"$agent"' in expr for expr in agent_exprs)


def test_panel_queries_substitute_every_template_variable() -> None:
    queries = dashboard_queries(DASHBOARDS.glob("*.json"), {"agent": "planner"})

    assert len(queries) == sum(len(p.queries) for b in BOARDS for p in b.panels())
    assert not [q for q in queries if "$" in q.expr]
    assert any('gen_ai_agent_id=~"planner"' in q.expr for q in queries)


def test_every_rule_has_a_firing_and_a_quiet_promtool_case() -> None:
    tests = load_yaml("prometheus/tests/otel-agents.test.yml")["tests"]
    names = [rule.name for rule in RULES]

    assert len(set(names)) == len(names)
    assert len({t["name"] for t in tests}) == len(tests)
    for name in names:
        cases = [
            check for t in tests for check in t["alert_rule_test"] if check["alertname"] == name
        ]
        assert {bool(case["exp_alerts"]) for case in cases} == {False, True}, name


def test_every_failure_counter_rule_fires_on_a_series_that_appears_at_its_first_count() -> None:
    """The SDK creates a counter's series at its first add(1) and the Collector serves no
    failure series before a failure: the firing case of each such rule starts absent."""
    tests = {t["name"]: t for t in load_yaml("prometheus/tests/otel-agents.test.yml")["tests"]}
    firsts = {
        "OtelAgentsMessagesDeadLettered fires: the first dead letter",
        "OtelAgentsCollectorExportFailing fires: the first failure",
        "OtelAgentsCollectorDroppingData fires: the first drop",
    }

    for name in firsts:
        (series,) = tests[name]["input_series"]
        assert series["values"].startswith("_x"), name
        assert " 1x" in series["values"], name
        assert all(check["exp_alerts"] for check in tests[name]["alert_rule_test"]), name


def test_the_datasources_link_exemplar_trace_ids_to_jaeger() -> None:
    datasources = load_yaml("grafana/provisioning/datasources/datasources.yml")["datasources"]
    by_uid = {ds["uid"]: ds for ds in datasources}

    assert by_uid[PROMETHEUS_UID]["type"] == "prometheus"
    assert by_uid[PROMETHEUS_UID]["url"] == "http://prometheus:9090"
    assert by_uid[JAEGER_UID]["type"] == "jaeger"
    assert by_uid[JAEGER_UID]["url"] == "http://jaeger:16686"
    assert by_uid[PROMETHEUS_UID]["jsonData"]["exemplarTraceIdDestinations"] == [
        {"name": "trace_id", "datasourceUid": JAEGER_UID, "urlDisplayLabel": "Open trace in Jaeger"}
    ]


def test_the_log_store_datasource_links_trace_ids_to_jaeger() -> None:
    datasources = load_yaml("grafana/provisioning/datasources/datasources.yml")["datasources"]
    (logs,) = [ds for ds in datasources if ds["type"] == "victoriametrics-logs-datasource"]

    assert logs["url"] == "http://victorialogs:9428"
    assert logs["jsonData"]["derivedFields"] == [
        {
            "name": "trace_id",
            "matcherType": "label",
            "matcherRegex": "trace_id",
            "url": "$${__value.raw}",  # $$: provisioning's escape for a literal $
            "datasourceUid": JAEGER_UID,
            "urlDisplayLabel": "Open trace in Jaeger",
        }
    ]


def test_the_dashboards_use_the_current_schema_of_the_grafana_the_stack_runs() -> None:
    """Schema 41 (Grafana 11.6 and 12): the pinned SDK build, not pip's default 10.1 build."""
    assert {d["schemaVersion"] for d in _dashboards()} == {41}


def test_every_latency_panel_leads_to_traces_of_the_same_service_and_operation() -> None:
    """The span-latency panel links a point to Jaeger's search for its service and operation;
    every other latency panel links to that panel with the same time range and variables."""
    for dashboard in _dashboards():
        for panel in _panels(dashboard):
            if not any(t["expr"].startswith("histogram_quantile") for t in panel["targets"]):
                continue
            data_links = panel["fieldConfig"]["defaults"].get("links", [])
            urls = [link["url"] for link in [*panel.get("links", []), *data_links]]
            assert any(
                url.startswith("${jaeger_url}/search?service=")
                or url == "/d/otel-agents-services?${__url_time_range}&${__all_variables}"
                for url in urls
            ), (dashboard["uid"], panel["title"])
