"""The committed dashboards, alert rules and rule tests are exactly what the generator writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import generate
from _stack import REPO, load_yaml
from stackgen import collector
from stackgen.dashboards import JAEGER_UID, PROMETHEUS_UID
from stackgen.panels import BOARDS
from stackgen.queries import dashboard_queries
from stackgen.rules import RULES

from otel_agents.prometheus_names import prometheus_names
from otel_agents.semconv import ALL_METRICS

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
    return {name for spec in ALL_METRICS.values() for name in prometheus_names(spec).series}


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
    allowed = _derived_series() | _PROMETHEUS_SERIES | set(collector.all_names())
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


def test_every_query_uses_the_provisioned_prometheus_datasource() -> None:
    for path in DASHBOARDS.glob("*.json"):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": PROMETHEUS_UID}
            assert all(t["datasource"]["uid"] == PROMETHEUS_UID for t in panel["targets"])


def test_the_performance_dashboard_filters_every_agent_query_by_its_template_variable() -> None:
    dashboard = json.loads((DASHBOARDS / "otel-agents-performance.json").read_text())
    (variable,) = dashboard["templating"]["list"]
    agent_label = "gen_ai_agent_id"

    assert variable["name"] == "agent"
    assert variable["query"]["query"] == (
        f"label_values(agent_response_duration_seconds_count, {agent_label})"
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
    for name in names:
        cases = [
            t["alert_rule_test"][0] for t in tests if t["alert_rule_test"][0]["alertname"] == name
        ]
        assert sorted(bool(case["exp_alerts"]) for case in cases) == [False, True], name


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
