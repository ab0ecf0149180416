"""The Pipeline dashboard: is telemetry getting through the Collector, and who stopped sending?

It reads the Collector's own telemetry (job :data:`.collector.JOB`) and ``target_info``, so it
has data only on the Collector path of the compose stack (a process scraped directly by
Prometheus has no Collector to watch). Each panel answers the question of one pipeline rule
(:mod:`.rules_pipeline`). The SDK side of the pipeline (spans and points the services' own
exporters drop) is not here yet: ``otel_agents.semconv`` has no such counters.
"""

from __future__ import annotations

from collections.abc import Callable

from . import collector as oc, sdk
from .model import Board, Kind, Panel, Query, Row
from .promql import legend, rate, stat, sum_by, ts
from .rules_pipeline import FAILURE_WINDOW

__all__ = ["FAILURE_FAMILIES", "PIPELINE", "SDK_FAILURES", "SDK_LOSS_PANEL"]

_JOB = f'job="{oc.JOB}"'
#: Series families that exist only once something failed (the topology test checks their
#: panels after it stopped Jaeger).
FAILURE_FAMILIES = ("otelcol_exporter_send_failed", "otelcol_exporter_enqueue_failed")
#: The SDK's failure series (``error_type`` set), which exist only once a service lost data
#: (the topology test checks their panel after it stopped and restarted the Collector).
SDK_FAILURES = tuple(s for signal in sdk.SIGNALS for s in sdk.failures(signal).values())
#: The panel that selects them (on the board each selector also gets the service matcher).
SDK_LOSS_PANEL = "Lost by the SDKs"

_SIGNALS = {"spans": "traces", "metric_points": "metrics", "log_records": "logs"}


def _per_signal(name_of: Callable[[str], str], *by: str) -> list[Query]:
    """One query per signal: the rate of ``name_of(item)``, summed by ``by``."""
    queries = []
    for item, signal in _SIGNALS.items():
        series = f"{name_of(item)}{{{_JOB}}}"
        queries.append(Query(sum_by(rate(series), *by), f"{signal} {legend(*by)}".strip()))
    return queries


def _sdk_exported() -> list[Query]:
    return [
        Query(sum_by(rate(sdk.exported(signal)), "job"), f"{_SIGNALS[signal.item]} {legend('job')}")
        for signal in sdk.SIGNALS
    ]


def _sdk_lost() -> list[Query]:
    return [
        Query(sdk.lost_by((signal,)), f"{_SIGNALS[signal.item]} {legend('job')}")
        for signal in sdk.SIGNALS
    ]


def _failures(family: str) -> str:
    """Items the family counted in the rules' window, first failure included: the Collector
    serves a failure series only from its first failure on, which a ``rate()`` never shows
    (the same count as OtelAgentsCollectorExportFailing / ...DroppingData)."""
    return sum_by(oc.growth_per_item(family, FAILURE_WINDOW), "exporter")


PIPELINE = Board(
    uid="otel-agents-pipeline",
    title="otel-agents / Pipeline",
    description=(
        "Is the Collector up, is telemetry getting through it to Jaeger and Prometheus, is "
        "anything refused, failing or queueing, and which services stopped exporting?"
    ),
    rows=(
        Row(
            "Collector",
            (
                stat(
                    "Collector up",
                    f"max(up{{{_JOB}}})",
                    "none",
                    "1 when Prometheus scrapes the Collector's own telemetry (rule "
                    "OtelAgentsCollectorDown at 0).",
                ),
                stat(
                    "Collector memory",
                    f"max({oc.PROCESS_MEMORY_RSS}{{{_JOB}}})",
                    "bytes",
                    "Resident memory; the memory_limiter refuses data above 160 MiB of the "
                    "container's 200 MiB.",
                ),
                stat(
                    "Services exporting",
                    f'count(max by (job) (target_info{{job!="{oc.JOB}"}}))',
                    "none",
                    "Services whose target_info is in Prometheus now.",
                ),
            ),
        ),
        Row(
            "Throughput",
            (
                ts(
                    "Received by signal",
                    _per_signal(oc.receiver_accepted, "receiver"),
                    "short",
                    "Items per second the receivers accepted (spans, metric points, log records).",
                ),
                ts(
                    "Sent by signal",
                    _per_signal(oc.exporter_sent, "exporter"),
                    "short",
                    "Items per second the exporters delivered to Jaeger, Prometheus and the log.",
                ),
                ts(
                    "Refused by signal",
                    _per_signal(oc.receiver_refused, "receiver"),
                    "short",
                    "Items per second the pipeline refused (memory_limiter): rule "
                    "OtelAgentsCollectorRefusingData.",
                ),
                ts(
                    "Failed and dropped by exporter",
                    [
                        Query(
                            _failures("otelcol_exporter_send_failed"),
                            f"failed {legend('exporter')}",
                        ),
                        Query(
                            _failures("otelcol_exporter_enqueue_failed"),
                            f"queue full {legend('exporter')}",
                        ),
                    ],
                    "short",
                    f"Items lost in the {FAILURE_WINDOW} before each point (the first failure "
                    "included): given up after the exporter's retries (backend down, rule "
                    "OtelAgentsCollectorExportFailing) or refused by a full queue (rule "
                    "OtelAgentsCollectorDroppingData). No data while nothing ever failed.",
                ),
            ),
        ),
        Row(
            "Queues and services",
            (
                ts(
                    "Exporter queue fill",
                    [
                        Query(
                            f"max by (exporter, data_type) ({oc.EXPORTER_QUEUE_SIZE}{{{_JOB}}} "
                            f"/ {oc.EXPORTER_QUEUE_CAPACITY}{{{_JOB}}})",
                            legend("exporter", "data_type"),
                        )
                    ],
                    "percentunit",
                    "Sending queue size over capacity: rule OtelAgentsCollectorQueueNearlyFull at "
                    "80%; when full, data is dropped (OtelAgentsCollectorDroppingData).",
                ),
                Panel(
                    "Services exporting now",
                    Kind.TABLE,
                    (Query(f'max by (job, instance) (target_info{{job!="{oc.JOB}"}})'),),
                    "none",
                    "Every service (job) and instance with telemetry in Prometheus now; a service "
                    "missing here alerts as OtelAgentsServiceStoppedExporting.",
                ),
            ),
        ),
        Row(
            "The services' SDKs",
            (
                ts(
                    "Exported by the SDKs",
                    _sdk_exported(),
                    "short",
                    "Spans, metric points and log records per second each service's OpenTelemetry "
                    "SDK delivered to the Collector (its otel.sdk.exporter.* counters).",
                ),
                ts(
                    SDK_LOSS_PANEL,
                    _sdk_lost(),
                    "short",
                    "Items each service's SDK could not export (error.type: the exception, "
                    "ConnectionError while the Collector was unreachable) or dropped from a full "
                    f"batch queue, in the {sdk.LOSS_WINDOW} before each point. The SDK keeps "
                    "counting while the Collector is down and reports once it is back, so an "
                    "outage's loss appears after it: rule OtelAgentsServiceLosingTelemetry. No "
                    "data while nothing was ever lost.",
                ),
            ),
        ),
    ),
)
