"""Every threshold a generated rule compares a histogram quantile with is a bucket boundary.

Between two boundaries ``histogram_quantile`` interpolates linearly: with buckets ``1`` and
``2.5`` and a 2 s threshold, responses of 1.1 s all land in ``(1, 2.5]`` and read as a p95 of
2.425 s, so the slow-agent alert fired for agents never slower than 1.1 s. A boundary at the
threshold makes "p95 above the threshold" mean "more than 5% of observations above it".
"""

from __future__ import annotations

import re

from stackgen.rules import RULES

from otel_agents._prometheus_names import PrometheusType, prometheus_names
from otel_agents.semconv import ALL_METRICS, MetricSpec

#: ``histogram_quantile(q, ... <name>_bucket ...) <op> <threshold>``, the rule's comparison.
_QUANTILE = re.compile(
    r"histogram_quantile\((?P<q>[0-9.]+), .*?\b(?P<series>[a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\b"
    r".*?\)\)*\s*(?P<op>>=|<=|>|<)\s*(?P<threshold>[0-9.e+-]+)"
)


def _histograms() -> dict[str, MetricSpec]:
    """Histogram specs by their Prometheus base name (without ``_bucket``)."""
    return {
        prometheus_names(spec).metric: spec
        for spec in ALL_METRICS.values()
        if prometheus_names(spec).type is PrometheusType.HISTOGRAM
    }


def off_boundary(expr: str) -> list[str]:
    """The quantile comparisons of ``expr`` whose threshold is not a bucket boundary."""
    histograms = _histograms()
    problems = []
    for match in _QUANTILE.finditer(expr):
        spec = histograms.get(match["series"])
        assert spec is not None, f"{match['series']}_bucket is no histogram of the contract"
        threshold = float(match["threshold"])
        if threshold not in (spec.buckets or ()):
            problems.append(f"{spec.name}: {threshold:g} not in {tuple(spec.buckets or ())}")
    return problems


def test_every_quantile_threshold_of_the_rules_is_a_bucket_boundary() -> None:
    quantile_rules = [rule for rule in RULES if "histogram_quantile" in rule.expr]

    assert quantile_rules, "no generated rule compares a histogram quantile"
    assert all(_QUANTILE.search(rule.expr) for rule in quantile_rules), (
        "a quantile rule this check cannot read: extend _QUANTILE"
    )
    assert {rule.name: off_boundary(rule.expr) for rule in quantile_rules} == {
        rule.name: [] for rule in quantile_rules
    }


def test_the_check_flags_a_threshold_between_two_boundaries() -> None:
    """The old slow-agent layout: buckets 1 and 2.5 around a 2 s threshold."""
    (slow,) = [rule for rule in RULES if rule.name == "OtelAgentsSlowAgent"]
    moved = re.sub(r">=? *[0-9.]+$", ">= 1.7", slow.expr)

    buckets = tuple(ALL_METRICS["agent.response.duration"].buckets or ())

    assert moved != slow.expr
    assert off_boundary(moved) == [f"agent.response.duration: 1.7 not in {buckets}"]
