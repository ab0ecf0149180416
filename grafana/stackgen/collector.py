"""The OpenTelemetry Collector's own metric names, as the release of ``collector/`` serves them.

These are the Collector's names, not ours, so they are not in ``otel_agents.semconv``; they
live here, once, for the Pipeline dashboard and the pipeline rules. Release 0.161.0 serves its
internal telemetry (``service.telemetry`` of collector/otel-collector.yaml, scraped as job
:data:`JOB`) without the ``_total`` suffix on counters. ``tests/stack/test_topology.py``
checks the names here against the running Collector, so a release that renames one fails
there, not silently on a dashboard.
"""

from __future__ import annotations

from .names import growth

__all__ = [
    "EXPORTER_QUEUE_CAPACITY",
    "EXPORTER_QUEUE_SIZE",
    "JOB",
    "PROCESS_MEMORY_RSS",
    "SIGNAL_ITEMS",
    "all_names",
    "exporter_enqueue_failed",
    "exporter_send_failed",
    "exporter_sent",
    "failure_names",
    "growth_per_item",
    "rate_per_item",
    "receiver_accepted",
    "receiver_refused",
]

#: The Prometheus job that scrapes the Collector's own telemetry (prometheus/prometheus.yml).
JOB = "otelcol"
#: What the Collector counts per signal: spans (traces), metric points, log records.
SIGNAL_ITEMS = ("spans", "metric_points", "log_records")

EXPORTER_QUEUE_SIZE = "otelcol_exporter_queue_size"
EXPORTER_QUEUE_CAPACITY = "otelcol_exporter_queue_capacity"
PROCESS_MEMORY_RSS = "otelcol_process_memory_rss"


def receiver_accepted(item: str) -> str:
    return f"otelcol_receiver_accepted_{item}"


def receiver_refused(item: str) -> str:
    return f"otelcol_receiver_refused_{item}"


def exporter_sent(item: str) -> str:
    return f"otelcol_exporter_sent_{item}"


def exporter_send_failed(item: str) -> str:
    return f"otelcol_exporter_send_failed_{item}"


def exporter_enqueue_failed(item: str) -> str:
    return f"otelcol_exporter_enqueue_failed_{item}"


def rate_per_item(family: str, window: str) -> str:
    """The per-second rate of every signal's series of one family (``otelcol_exporter_sent``).

    Each signal's series is its own metric (``..._spans``, ``..._metric_points``, ...) with
    otherwise the same labels, and ``rate()`` drops the metric name: a regex over ``__name__``
    would then yield series with one labelset, which Prometheus refuses ("vector cannot
    contain metrics with the same labelset") as soon as two signals have data. Each rate
    gets an ``item`` label instead, so the union keeps them apart for the caller's ``sum``.
    """
    return " or ".join(
        f'label_replace(rate({family}_{item}{{job="{JOB}"}}[{window}]), "item", "{item}", "", "")'
        for item in SIGNAL_ITEMS
    )


def growth_per_item(family: str, window: str) -> str:
    """What every signal's series of one family counted in ``window``, first occurrences
    included (:func:`.names.growth`; the failure counters appear only at a first failure),
    each with its ``item`` label as in :func:`rate_per_item`."""
    series = {item: f'{family}_{item}{{job="{JOB}"}}' for item in SIGNAL_ITEMS}
    return " or ".join(
        f'label_replace({growth(series[item], window)}, "item", "{item}", "", "")'
        for item in SIGNAL_ITEMS
    )


def all_names() -> list[str]:
    """The names the dashboard and rules use that a healthy Collector serves.

    The failure counters (``send_failed``, ``enqueue_failed``) appear only once something
    failed: the topology test finds ``send_failed`` after it stopped Jaeger.
    """
    per_signal = [
        f(item)
        for f in (receiver_accepted, receiver_refused, exporter_sent)
        for item in SIGNAL_ITEMS
    ]
    return [*per_signal, EXPORTER_QUEUE_SIZE, EXPORTER_QUEUE_CAPACITY, PROCESS_MEMORY_RSS]


def failure_names() -> list[str]:
    """The failure counters the dashboard and rules use, served only once something failed."""
    return [
        f(item) for f in (exporter_send_failed, exporter_enqueue_failed) for item in SIGNAL_ITEMS
    ]
