"""The naming contract: every metric has one Prometheus name, whichever path it travels.

The compose path (SDK -> OTLP -> Collector ``prometheus`` exporter) and the direct path
(``opentelemetry-exporter-prometheus`` scraped by Prometheus) must store the same names, or a
dashboard shows "No data" on one of them. These tests iterate ``semconv.ALL_METRICS``, so a
metric added anywhere in the contract is checked without touching this file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from _contract import record_one_value_each
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry

from otel_agents import semconv
from otel_agents._errors import InvalidValueError
from otel_agents._prometheus_names import (
    DIMENSIONLESS_GAUGE_STATEMENT,
    PrometheusNames,
    PrometheusType,
    collector_label_name,
    collector_names,
    prometheus_label_name,
    prometheus_names,
    sdk_exporter_label_name,
    sdk_exporter_names,
)
from otel_agents.semconv import InstrumentKind, MetricSpec

REPO = Path(__file__).resolve().parent.parent
COLLECTOR_CONFIG = REPO / "collector" / "otel-collector.yaml"
SPECS = sorted(semconv.ALL_METRICS.values(), key=lambda spec: spec.name)
_KEY_SHAPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.?")


def _attribute_keys() -> list[str]:
    """Every attribute-key-shaped string constant of the contract (units excluded)."""
    keys = {
        value
        for name, value in vars(semconv).items()
        if name.isupper()
        and not name.startswith("UNIT_")
        and isinstance(value, str)
        and _KEY_SHAPE.fullmatch(value)
    }
    keys.update(semconv.CONTEXT_KEY_ATTRIBUTES.values())
    return sorted(keys)


# --------------------------------------------------------------------------------------
# Metric names
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_metric_has_the_same_prometheus_names_via_collector_and_python_exporter(
    spec: MetricSpec,
) -> None:
    via_collector = collector_names(spec)
    direct = sdk_exporter_names(spec)
    assert via_collector == direct, (
        f"metric {spec.name!r} ({spec.kind}, unit {spec.unit!r}) is named "
        f"{via_collector.metric!r} ({via_collector.type}) via the Collector but "
        f"{direct.metric!r} ({direct.type}) by opentelemetry-exporter-prometheus: rename it "
        "or change its unit in otel_agents/semconv.py (docs/prometheus-names.md)"
    )
    assert prometheus_names(spec) == direct


def test_histograms_are_stored_as_bucket_sum_and_count_series() -> None:
    for spec in (spec for spec in SPECS if spec.kind is InstrumentKind.HISTOGRAM):
        names = prometheus_names(spec)
        assert names.type is PrometheusType.HISTOGRAM, spec.name
        base = names.metric
        assert names.series == (f"{base}_bucket", f"{base}_sum", f"{base}_count"), spec.name


def test_monotonic_counters_end_in_total() -> None:
    kinds = {InstrumentKind.COUNTER, InstrumentKind.OBSERVABLE_COUNTER}
    for spec in (spec for spec in SPECS if spec.kind in kinds):
        names = prometheus_names(spec)
        assert names.type is PrometheusType.COUNTER, spec.name
        assert names.metric.endswith("_total"), spec.name
        assert names.series == (names.metric,)


def test_gauges_and_up_down_counters_have_no_type_suffix() -> None:
    kinds = {
        InstrumentKind.GAUGE,
        InstrumentKind.OBSERVABLE_GAUGE,
        InstrumentKind.UP_DOWN_COUNTER,
        InstrumentKind.OBSERVABLE_UP_DOWN_COUNTER,
    }
    for spec in (spec for spec in SPECS if spec.kind in kinds):
        names = prometheus_names(spec)
        assert names.type is PrometheusType.GAUGE, spec.name
        assert names.series == (names.metric,)
        assert not names.metric.endswith(("_total", "_ratio")), spec.name


def test_dimensionless_gauges_would_get_ratio_from_a_collector_without_our_transform() -> None:
    ratio_gauges = [
        spec for spec in SPECS if spec.unit == "1" and spec.kind is InstrumentKind.OBSERVABLE_GAUGE
    ]
    assert semconv.SYSTEM_CPU_UTILIZATION in ratio_gauges
    for spec in ratio_gauges:
        plain = spec.name.replace(".", "_")
        assert collector_names(spec, pipeline_rules=False).metric == plain + "_ratio"
        assert collector_names(spec).metric == plain
        assert sdk_exporter_names(spec).metric == plain


def test_python_exporter_derivation_matches_what_the_installed_exporter_serves() -> None:
    """Record into every instrument and compare with the sample names prometheus_client makes."""
    registry = CollectorRegistry()
    provider = MeterProvider(
        metric_readers=[PrometheusMetricReader(registry=registry)], shutdown_on_exit=False
    )
    try:
        record_one_value_each(
            provider.get_meter("naming-contract"), SPECS, {semconv.GEN_AI_AGENT_ID: "contract"}
        )
        served = {sample.name for family in registry.collect() for sample in family.samples}
    finally:
        provider.shutdown()
    predicted = {name for spec in SPECS for name in sdk_exporter_names(spec).series}
    assert served - {"target_info"} == predicted


@pytest.mark.parametrize(
    ("name", "kind", "unit", "expected"),
    [
        ("system.filesystem.usage", "up_down_counter", "By", "system_filesystem_usage_bytes"),
        ("system.network.dropped", "counter", "{packets}", "system_network_dropped_total"),
        ("system.network.dropped", "gauge", "packets", "system_network_dropped_packets"),
        ("system.memory.utilization", "gauge", "1", "system_memory_utilization_ratio"),
        ("storage.filesystem.utilization", "gauge", "%", "storage_filesystem_utilization_percent"),
        ("astro.light.speed", "gauge", "m/s", "astro_light_speed_meters_per_second"),
        ("system.processes.created", "counter", "", "system_processes_created_total"),
        ("requests.count", "counter", "1", "requests_count_total"),
        ("http.server.request.duration", "histogram", "s", "http_server_request_duration_seconds"),
        ("agent.seconds.spent", "histogram", "s", "agent_seconds_spent"),
        ("total.requests", "counter", "", "requests_total"),
        ("(lambda).function.executions(#)", "gauge", "", "lambda_function_executions"),
    ],
)
def test_collector_derivation_reproduces_the_translators_examples(
    name: str, kind: str, unit: str, expected: str
) -> None:
    spec = MetricSpec(name, InstrumentKind(kind), unit, "example")
    assert collector_names(spec, pipeline_rules=False).metric == expected


def test_prometheus_names_refuses_a_metric_the_paths_name_differently() -> None:
    spec = MetricSpec("agent.seconds.spent", InstrumentKind.HISTOGRAM, "s", "example")
    assert sdk_exporter_names(spec) == PrometheusNames(
        "agent_seconds_spent_seconds", PrometheusType.HISTOGRAM
    )
    with pytest.raises(InvalidValueError, match="'agent_seconds_spent' via the Collector"):
        prometheus_names(spec)


# --------------------------------------------------------------------------------------
# Label names
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", _attribute_keys())
def test_attribute_key_has_the_same_label_via_collector_and_python_exporter(key: str) -> None:
    via_collector, direct = collector_label_name(key), sdk_exporter_label_name(key)
    assert via_collector == direct, (
        f"attribute {key!r} becomes label {via_collector!r} via the Collector but {direct!r} "
        "by opentelemetry-exporter-prometheus"
    )
    assert prometheus_label_name(key) == key.replace(".", "_")


def test_label_names_replace_dots_with_underscores() -> None:
    assert prometheus_label_name(semconv.GEN_AI_AGENT_ID) == "gen_ai_agent_id"
    assert prometheus_label_name("messaging.message.conversation_id") == (
        "messaging_message_conversation_id"
    )


def test_a_key_starting_with_a_digit_is_labelled_differently_and_refused() -> None:
    assert collector_label_name("2xx.count") == "key_2xx_count"
    assert sdk_exporter_label_name("2xx.count") == "_xx_count"
    with pytest.raises(InvalidValueError, match=r"'2xx\.count'"):
        prometheus_label_name("2xx.count")


# --------------------------------------------------------------------------------------
# The Collector config that the compose path runs
# --------------------------------------------------------------------------------------
#: Component types otelcol-contrib 0.162.0 ships under these names (see the config's header).
KNOWN_TYPES = {
    "receivers": {"otlp"},
    "processors": {"memory_limiter", "batch", "transform"},
    "exporters": {"otlp_grpc", "otlp_http", "prometheus", "debug"},
    "extensions": {"health_check"},
    "connectors": {"spanmetrics"},
}


def _defined(config: dict[str, Any], section: str) -> set[str]:
    """Components a pipeline may name in ``section``: connectors are exporters of one pipeline
    and receivers of another."""
    connectors = set(config.get("connectors", {})) if section != "processors" else set()
    return set(config[section]) | connectors


@pytest.fixture(scope="module")
def collector_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(COLLECTOR_CONFIG.read_text(encoding="utf-8"))
    return config


def test_collector_pipelines_reference_only_defined_components(
    collector_config: dict[str, Any],
) -> None:
    service = collector_config["service"]
    assert set(service["extensions"]) <= set(collector_config["extensions"])
    for name, pipeline in service["pipelines"].items():
        for section in ("receivers", "processors", "exporters"):
            undefined = set(pipeline.get(section, [])) - _defined(collector_config, section)
            assert not undefined, f"pipeline {name!r} uses undefined {section}: {undefined}"


def test_collector_defines_no_unused_component(collector_config: dict[str, Any]) -> None:
    service = collector_config["service"]
    used: dict[str, set[str]] = {section: set() for section in KNOWN_TYPES}
    used["extensions"].update(service["extensions"])
    connectors = set(collector_config.get("connectors", {}))
    for pipeline in service["pipelines"].values():
        for section in ("receivers", "processors", "exporters"):
            used[section].update(set(pipeline.get(section, [])) - connectors)
            if section != "processors":
                used[f"connectors as {section}"] = used.get(f"connectors as {section}", set())
                used[f"connectors as {section}"].update(set(pipeline[section]) & connectors)
    used["connectors"] = used.pop("connectors as receivers") & used.pop("connectors as exporters")
    for section, components in used.items():
        assert set(collector_config[section]) == components, section


def test_collector_component_types_exist_in_the_pinned_release(
    collector_config: dict[str, Any],
) -> None:
    for section, known in KNOWN_TYPES.items():
        types = {component.split("/", 1)[0] for component in collector_config[section]}
        assert types <= known, f"{section}: {types - known}"


def test_collector_receives_otlp_on_the_standard_ports(collector_config: dict[str, Any]) -> None:
    protocols = collector_config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"


def test_collector_pipelines_start_with_memory_limiter_and_batch_before_export(
    collector_config: dict[str, Any],
) -> None:
    for name, pipeline in collector_config["service"]["pipelines"].items():
        assert pipeline["processors"][0] == "memory_limiter", name
        assert pipeline["processors"][-1] == "batch", name


def test_collector_sends_traces_to_jaeger_and_metrics_to_prometheus(
    collector_config: dict[str, Any],
) -> None:
    pipelines = collector_config["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["otlp_grpc/jaeger", "spanmetrics"]
    assert collector_config["exporters"]["otlp_grpc/jaeger"]["endpoint"] == "jaeger:4317"
    # Span metrics (requests, errors, duration from spans) join the metrics pipeline.
    assert pipelines["metrics"]["receivers"] == ["otlp", "spanmetrics"]
    assert pipelines["metrics"]["exporters"] == ["prometheus"]
    prometheus = collector_config["exporters"]["prometheus"]
    assert prometheus["endpoint"] == "0.0.0.0:8889"
    # Same labels as the direct path: resource attributes only on target_info.
    assert prometheus["resource_to_telemetry_conversion"] == {"enabled": False}
    # Default suffixes, the rules collector_names() implements.
    assert "translation_strategy" not in prometheus
    assert "add_metric_suffixes" not in prometheus
    assert "namespace" not in prometheus


def test_collector_metrics_pipeline_applies_the_dimensionless_gauge_rule(
    collector_config: dict[str, Any],
) -> None:
    pipeline = collector_config["service"]["pipelines"]["metrics"]
    transforms = [name for name in pipeline["processors"] if name.startswith("transform")]
    assert transforms == ["transform/prometheus_names"]
    statements = collector_config["processors"]["transform/prometheus_names"]["metric_statements"]
    assert statements == [DIMENSIONLESS_GAUGE_STATEMENT]


def test_collector_health_check_extension_is_enabled(collector_config: dict[str, Any]) -> None:
    assert collector_config["service"]["extensions"] == ["health_check"]
    assert collector_config["extensions"]["health_check"]["endpoint"] == "0.0.0.0:13133"
