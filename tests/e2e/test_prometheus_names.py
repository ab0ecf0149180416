"""Every metric of the contract reaches a real Prometheus under its predicted names.

One value goes into an instrument for every spec in ``semconv.ALL_METRICS`` (observable ones
through a callback), Prometheus scrapes the SDK's exporter, and PromQL must find each series
name that ``otel_agents._prometheus_names`` predicts, with the attribute translated to its
predicted label. The Collector path names them identically (tests/test_naming_contract.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from _contract import record_one_value_each
from _prometheus import MODULE_TIMEOUT
from opentelemetry.sdk.resources import SERVICE_NAME

from otel_agents import semconv
from otel_agents._prometheus_names import prometheus_label_name, prometheus_names
from otel_agents.semconv import MetricSpec

if TYPE_CHECKING:
    from tests.e2e.conftest import MetricsTarget, Prometheus

# Its first test may fetch Prometheus: longer than the default per-test timeout.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(MODULE_TIMEOUT)]

AGENT_ID = "e2e-agent"
#: Series Prometheus adds to every scrape job itself.
SCRAPE_SERIES = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}


@pytest.fixture(scope="module")
def recorded_specs(metrics_target: MetricsTarget, prometheus: Prometheus) -> list[MetricSpec]:
    """One value recorded into an instrument for every metric of the contract, then scraped."""
    meter = metrics_target.meter_provider.get_meter("otel-agents-e2e-naming")
    specs = sorted(semconv.ALL_METRICS.values(), key=lambda spec: spec.name)
    record_one_value_each(meter, specs, {semconv.GEN_AI_AGENT_ID: AGENT_ID})
    prometheus.wait_for_scrape_after(time.time())
    return specs


def test_every_predicted_series_name_returns_data_from_prometheus(
    prometheus: Prometheus, recorded_specs: list[MetricSpec]
) -> None:
    label = prometheus_label_name(semconv.GEN_AI_AGENT_ID)
    missing = []
    for spec in recorded_specs:
        for series in prometheus_names(spec).series:
            promql = f'{series}{{job="{prometheus.job}", {label}="{AGENT_ID}"}}'
            if not prometheus.query_once(promql):
                missing.append(f"{spec.name} -> {promql}")
    assert not missing, "no data in Prometheus for:\n" + "\n".join(missing)


def test_prometheus_stores_no_metric_names_beyond_the_predicted_ones(
    prometheus: Prometheus, recorded_specs: list[MetricSpec]
) -> None:
    predicted = {name for spec in recorded_specs for name in prometheus_names(spec).series}
    by_name = prometheus.query_once(f'count by (__name__) ({{job="{prometheus.job}"}})')
    stored = {sample["metric"]["__name__"] for sample in by_name}
    assert stored - SCRAPE_SERIES - {"target_info"} == predicted


def test_resource_attributes_arrive_only_on_target_info(
    prometheus: Prometheus, metrics_target: MetricsTarget, recorded_specs: list[MetricSpec]
) -> None:
    service_label = prometheus_label_name(SERVICE_NAME)
    (info,) = prometheus.query(f'target_info{{job="{prometheus.job}"}}')
    assert info["metric"][service_label] == metrics_target.service_name
    with_resource_label = f'{{job="{prometheus.job}", {service_label}!=""}} unless target_info'
    assert prometheus.query_once(with_resource_label) == []
