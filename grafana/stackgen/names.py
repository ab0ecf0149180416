"""PromQL building blocks whose every metric and label name is derived, never typed."""

from __future__ import annotations

import re

from otel_agents._prometheus_names import (
    PrometheusType,
    prometheus_label_name,
    prometheus_names,
)
from otel_agents.semconv import MetricSpec

__all__ = ["bucket", "count", "growth", "label", "metric", "selector", "total"]


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


#: The shortest history :func:`growth` searches for a counter's value at a window's start.
GROWTH_LOOKBACK = "1h"
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _seconds(duration: str) -> int:
    """A PromQL duration of one unit (``5m``, ``1h``, ``7d``) in seconds."""
    match = _DURATION.fullmatch(duration)
    if match is None:
        raise ValueError(f"window {duration!r}: expected one number and unit, e.g. 10m or 1h")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def growth(series: str, window: str) -> str:
    """What the counter ``series`` counted in the ``window`` before each point, first
    occurrences included: the one helper of every rule on a failure counter.

    ``rate()`` and ``increase()`` never count a series' first sample, and a failure counter's
    series often *appears* with its first failure already counted: the SDK creates it at its
    first ``add()`` (Prometheus's first sample is 1, never 0), the Collector serves no
    ``send_failed_*`` series until a failure, and an outage's SDK losses arrive whole once the
    Collector is back (:mod:`.sdk`). So a series that did not exist at the window's start
    counts whole. A counter that went down (the Collector restarted under the same scrape
    target) counts its value since the reset, which is what it counted then.

    The value at the window's start is the *last sample at or before it*
    (``last_over_time(X[lookback] offset window)``), not the instant ``X offset window``: an
    instant selector finds nothing after a stale marker (the Collector down for more than a
    scrape or two) or 5 minutes without samples (a paused host or Prometheus), and the
    ``or X`` branch then counted the series' lifetime total as new, firing with nothing new.
    A range selector skips stale markers and reaches back ``lookback``: the longer of
    :data:`GROWTH_LOOKBACK` (1h: longer than any outage of the stack the alerts are meant to
    sit through; the SDK re-exports every cumulative counter each interval, so a living
    series has no longer gap) and the window itself (a rule asking about a day tolerates a
    gap as long as the question). Longer would cost every evaluation more samples per
    series for little: a series silent for longer than that counts whole again.
    """
    lookback = window if _seconds(window) > _seconds(GROWTH_LOOKBACK) else GROWTH_LOOKBACK
    start = f"last_over_time({series}[{lookback}] offset {window})"
    return f"({series} - {start} >= 0 or {series})"


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
