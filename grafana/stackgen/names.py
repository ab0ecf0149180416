"""PromQL building blocks whose every metric and label name is derived, never typed."""

from __future__ import annotations

from otel_agents._prometheus_names import (
    PrometheusType,
    prometheus_label_name,
    prometheus_names,
)
from otel_agents.semconv import MetricSpec

__all__ = ["bucket", "count", "label", "metric", "selector", "total"]


def metric(spec: MetricSpec) -> str:
    """The name PromQL selects for ``spec`` (``_total`` included for counters)."""
    names = prometheus_names(spec)
    if names.type is PrometheusType.HISTOGRAM:
        raise ValueError(f"{spec.name} is a histogram: use bucket() or count()")
    return names.metric


def _histogram(spec: MetricSpec, part: str) -> str:
    names = prometheus_names(spec)
    if names.type is not PrometheusType.HISTOGRAM:
        raise ValueError(f"{spec.name} is not a histogram")
    return f"{names.metric}_{part}"


def bucket(spec: MetricSpec) -> str:
    """The ``_bucket`` series of the histogram ``spec``."""
    return _histogram(spec, "bucket")


def count(spec: MetricSpec) -> str:
    """The ``_count`` series of the histogram ``spec``."""
    return _histogram(spec, "count")


def total(spec: MetricSpec) -> str:
    """The ``_sum`` series of the histogram ``spec`` (e.g. the tokens counted)."""
    return _histogram(spec, "sum")


def label(key: str) -> str:
    """The Prometheus label of the attribute ``key``."""
    return prometheus_label_name(key)


def selector(name: str, matchers: dict[str, str] | None = None) -> str:
    """``name{label="value",...}``; a value starting with ``=~``/``!=``/``!~`` keeps its operator.

    Keys are attribute keys (translated with :func:`label`), except the Prometheus-owned
    labels ``le``, ``alertname`` and ``alertstate``, kept as they are.
    """
    if not matchers:
        return name
    parts = []
    for key, value in matchers.items():
        operator, text = "=", value
        for candidate in ("=~", "!=", "!~"):
            if value.startswith(candidate):
                operator, text = candidate, value[len(candidate) :]
        name_of_label = key if key in _PROMETHEUS_LABELS else label(key)
        parts.append(f'{name_of_label}{operator}"{text}"')
    return f"{name}{{{','.join(parts)}}}"


_PROMETHEUS_LABELS = frozenset({"le", "alertname", "alertstate", "severity"})
