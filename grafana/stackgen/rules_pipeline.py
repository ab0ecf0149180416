"""Alert rules for the telemetry pipeline itself: the Collector and the services feeding it.

They read the Collector's own telemetry (job :data:`.collector.JOB`, names in
:mod:`.collector`) and ``target_info``, the one series every OpenTelemetry service has in
Prometheus. Each failure the stack can have gets a rule: the Collector down, an exporter giving
up on data, the Collector refusing data (its memory_limiter), an exporter queue filling up or
overflowing (data dropped), a service that stopped exporting, and a service whose own SDK
lost data it could not export (the SDK's ``otel.sdk.*`` counters, :mod:`.sdk`).
"""

from __future__ import annotations

from . import collector as oc, sdk
from .alerting import AlertRule, Case, growing, steady, template
from .names import metric

__all__ = ["FAILURE_WINDOW", "PIPELINE_RULES", "STOPPED_EXPORTING_WINDOW"]

COLLECTOR = "otel-collector"  # the `service` label of the Collector's rules
_INSTANCE = {"job": oc.JOB, "instance": "otel-collector:8888"}
#: How far back OtelAgentsServiceStoppedExporting remembers a service: the alert keeps firing
#: while the service stays away, for up to this long (then a service removed on purpose stops
#: alerting by itself). Far longer than an outage someone should notice, and within
#: Prometheus's retention (15 days by default), which bounds it anyway. A window shorter than
#: the outage resolves the alert while the service is still down (a 30-minute window did,
#: 30 minutes after a crash). Cost: max_over_time reads each job's target_info samples of the
#: window, about 40,000 per running service at a 15 s scrape (docs/pipeline.md, measured).
STOPPED_EXPORTING_WINDOW = "7d"


def _series(name: str, **labels: str) -> str:
    pairs = {**labels, **_INSTANCE}
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in pairs.items()) + "}"


def _rate_by(family: str, by: str) -> str:
    return f"sum by ({by}) ({oc.rate_per_item(family, '5m')})"


#: How long a Collector failure counter's growth keeps its alert's condition true.
FAILURE_WINDOW = "5m"


def _failed_by(family: str, by: str) -> str:
    """Items a failure family counted in :data:`FAILURE_WINDOW`, first failure included: the
    Collector serves no ``send_failed_*``/``enqueue_failed_*`` series until something failed,
    so the first failure is the series appearing at its count (``rate()`` reads 0)."""
    return f"sum by ({by}) ({oc.growth_per_item(family, FAILURE_WINDOW)})"


def _first_failures(series: str, labels: dict[str, str]) -> tuple[Case, ...]:
    """The cases every failure-counter rule needs beyond its first failure: a failure long
    after the first fires again, a first failure long ago stays quiet, and the first failure
    after a Collector restart (the counter back at 1, below its old value) fires."""
    return (
        Case({series: "1x8 2x7"}, dict(labels), name="a failure long after the first"),
        Case({series: "_x2 1x13"}, name="one failure, more than the window ago"),
        Case(
            {series: "5x4 _x2 1x9"},
            dict(labels),
            eval_times=("10m",),
            name="the first failure after a Collector restart",
        ),
    )


_JAEGER = "otlp_grpc/jaeger"
_QUEUE = f'{oc.EXPORTER_QUEUE_SIZE}{{job="{oc.JOB}"}} / {oc.EXPORTER_QUEUE_CAPACITY}'
_TARGETS = f'target_info{{job!="{oc.JOB}"}}'
_WORKER = {"job": "otel-agents/agent-worker", "instance": "agent-worker:8101"}


def _sdk_failed(name: str, values: str) -> dict[str, str]:
    labels = {sdk.ERROR_TYPE: "ConnectionError", **_WORKER}
    return {name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}": values}


_SPANS_FAILED = metric(sdk.SIGNALS[0].exporter)
_POINTS_FAILED = metric(sdk.SIGNALS[1].exporter)


def _target(values: str) -> dict[str, str]:
    return {"target_info{" + ",".join(f'{k}="{v}"' for k, v in _WORKER.items()) + "}": values}


_WORKER_RESTARTED = f'target_info{{job="{_WORKER["job"]}",instance="agent-worker-2"}}'
_HUB_TARGET = 'target_info{job="otel-agents/hub",instance="hub-1"}'


PIPELINE_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="OtelAgentsCollectorDown",
        service=COLLECTOR,
        expr=f'up{{job="{oc.JOB}"}} == 0',
        hold="1m",
        severity="critical",
        summary=f"The OpenTelemetry Collector at {template('instance')} is down",
        description=(
            "Prometheus cannot scrape the Collector's own telemetry: no traces, metrics or logs "
            "of any service reach Jaeger or Prometheus; the SDKs retry, then drop."
        ),
        fires=Case({_series("up"): steady(0)}, dict(_INSTANCE)),
        quiet=Case({_series("up"): steady(1)}),
    ),
    AlertRule(
        name="OtelAgentsCollectorExportFailing",
        service=COLLECTOR,
        expr=f"{_failed_by('otelcol_exporter_send_failed', 'exporter')} > 0",
        hold="1m",
        severity="warning",
        summary=f"The Collector's exporter {template('exporter')} fails to send data",
        description=(
            "otelcol_exporter_send_failed_*: the backend refused or was unreachable for a "
            "whole retry period (retry_on_failure.max_elapsed_time) and the data was dropped, "
            f"in the last {FAILURE_WINDOW} (the first failure included)."
        ),
        # The Collector serves the series from its first failure on: absent, then counted.
        fires=Case(
            {_series(oc.exporter_send_failed("spans"), exporter=_JAEGER): "_x9 1x6"},
            {"exporter": _JAEGER},
            name="the first failure",
        ),
        quiet=Case({_series(oc.exporter_send_failed("spans"), exporter=_JAEGER): steady(4)}),
        more=(
            Case(
                {_series(oc.exporter_send_failed("spans"), exporter=_JAEGER): growing(30)},
                {"exporter": _JAEGER},
                name="failing all the time",
            ),
            # Prometheus or its host paused 8 minutes (no samples, no stale marker).
            Case(
                {_series(oc.exporter_send_failed("spans"), exporter=_JAEGER): "4x10 _x8 4x20"},
                eval_times=("21m", "22m"),
                name="no new failure across an 8-minute silence",
            ),
            *_first_failures(
                _series(oc.exporter_send_failed("spans"), exporter=_JAEGER), {"exporter": _JAEGER}
            ),
        ),
    ),
    AlertRule(
        name="OtelAgentsCollectorRefusingData",
        service=COLLECTOR,
        expr=f"{_rate_by('otelcol_receiver_refused', 'receiver')} > 0",
        hold="5m",
        severity="warning",
        summary=f"The Collector refuses data at receiver {template('receiver')}",
        description=(
            "otelcol_receiver_refused_*: the pipeline said no, most often the memory_limiter "
            "above its limit; senders retry, then drop."
        ),
        # Two signals refused at once: one alert for the receiver (the rates are summed).
        fires=Case(
            {
                _series(oc.receiver_refused("metric_points"), receiver="otlp"): growing(100),
                _series(oc.receiver_refused("spans"), receiver="otlp"): growing(40),
            },
            {"receiver": "otlp"},
        ),
        quiet=Case(
            {
                _series(oc.receiver_refused("metric_points"), receiver="otlp"): steady(0),
                _series(oc.receiver_refused("spans"), receiver="otlp"): steady(3),
            }
        ),
    ),
    AlertRule(
        name="OtelAgentsCollectorQueueNearlyFull",
        service=COLLECTOR,
        expr=f"max by (exporter, data_type) ({_QUEUE}) > 0.8",
        hold="5m",
        severity="warning",
        summary=f"The queue of exporter {template('exporter')} is more than 80% full",
        description=(
            "otelcol_exporter_queue_size over its capacity: the backend is slower than the "
            "incoming data or down; when the queue is full, new data is dropped."
        ),
        fires=Case(
            {
                _series(oc.EXPORTER_QUEUE_SIZE, exporter=_JAEGER, data_type="traces"): steady(900),
                _series(oc.EXPORTER_QUEUE_CAPACITY, exporter=_JAEGER, data_type="traces"): steady(
                    1000
                ),
            },
            {"exporter": _JAEGER, "data_type": "traces"},
        ),
        quiet=Case(
            {
                _series(oc.EXPORTER_QUEUE_SIZE, exporter=_JAEGER, data_type="traces"): steady(3),
                _series(oc.EXPORTER_QUEUE_CAPACITY, exporter=_JAEGER, data_type="traces"): steady(
                    1000
                ),
            }
        ),
    ),
    AlertRule(
        name="OtelAgentsCollectorDroppingData",
        service=COLLECTOR,
        expr=f"{_failed_by('otelcol_exporter_enqueue_failed', 'exporter')} > 0",
        hold="1m",
        severity="critical",
        summary=f"The Collector drops data: the queue of {template('exporter')} is full",
        description=(
            "otelcol_exporter_enqueue_failed_*: the sending queue is full and new data is "
            f"dropped on arrival, in the last {FAILURE_WINDOW} (the first drop included)."
        ),
        fires=Case(
            {_series(oc.exporter_enqueue_failed("spans"), exporter=_JAEGER): "_x9 1x6"},
            {"exporter": _JAEGER},
            name="the first drop",
        ),
        quiet=Case({_series(oc.exporter_enqueue_failed("spans"), exporter=_JAEGER): steady(7)}),
        more=(
            Case(
                {_series(oc.exporter_enqueue_failed("spans"), exporter=_JAEGER): growing(50)},
                {"exporter": _JAEGER},
                name="dropping all the time",
            ),
            # Prometheus or its host paused 8 minutes (no samples, no stale marker).
            Case(
                {_series(oc.exporter_enqueue_failed("spans"), exporter=_JAEGER): "4x10 _x8 4x20"},
                eval_times=("21m", "22m"),
                name="no new drop across an 8-minute silence",
            ),
            *_first_failures(
                _series(oc.exporter_enqueue_failed("spans"), exporter=_JAEGER),
                {"exporter": _JAEGER},
            ),
        ),
    ),
    AlertRule(
        name="OtelAgentsServiceStoppedExporting",
        expr=(
            "label_replace("
            f"max by (job) (max_over_time({_TARGETS}[{STOPPED_EXPORTING_WINDOW}])) "
            f"unless on (job) {_TARGETS}, "
            '"service", "$1", "job", "(.*)")'
        ),
        hold="2m",
        severity="warning",
        summary=f"{template('service')} stopped exporting telemetry",
        description=(
            f"No instance of {template('job')} has target_info in Prometheus any more, and one "
            f"had in the last {STOPPED_EXPORTING_WINDOW} (the alert fires until the service "
            "is back, for up to that long): the service stopped, or its exports "
            "no longer reach the Collector (which forgets a series after its "
            "metric_expiration). By job: a restart (a new service.instance.id) resolves it."
        ),
        # Exports until minute 10, then stopped for good: firing, and still firing 40
        # minutes later (another service exporting all along changes nothing).
        fires=Case(
            {**_target("1x10 _x50"), _HUB_TARGET: "1x60"},
            {"job": _WORKER["job"], "service": _WORKER["job"]},
            eval_times=("20m", "50m"),
            name="stopped at minute 10, still stopped",
        ),
        quiet=Case(_target(steady(1))),
        more=(
            # Started again (a new service.instance.id): the job exports, the alert resolves.
            Case(
                {
                    **_target("1x10 _x50"),
                    _WORKER_RESTARTED: "_x30 1x30",
                    _HUB_TARGET: "1x60",
                },
                eval_times=("50m",),
                name="started again with a new instance id",
            ),
        ),
    ),
    AlertRule(
        name="OtelAgentsServiceLosingTelemetry",
        expr=f'label_replace({sdk.lost_by()}, "service", "$1", "job", "(.*)") > 0',
        hold="1m",
        severity="warning",
        summary=f"{template('service')} lost telemetry it could not export",
        description=(
            f"The OpenTelemetry SDK of {template('job')} counted spans, metric points or log "
            "records whose export failed (otel.sdk.exporter.*, with error.type) or that a full "
            f"batch queue dropped (otel.sdk.processor.*) in the last {sdk.LOSS_WINDOW}. An "
            "unreachable Collector's loss is reported once it is back, so this follows "
            "OtelAgentsCollectorDown; the data itself is gone."
        ),
        # What the topology test sees after a Collector outage: the failure series appear
        # with their whole count and stay flat (rate() of them is 0).
        fires=Case(
            {
                **_sdk_failed(_SPANS_FAILED, "_x5 300x10"),
                **_sdk_failed(_POINTS_FAILED, "_x5 78x10"),
            },
            {"job": _WORKER["job"], "service": _WORKER["job"]},
        ),
        # Failures long ago (before the window) and none since.
        quiet=Case(_sdk_failed(_SPANS_FAILED, steady(40))),
        more=(
            Case(
                _sdk_failed(_SPANS_FAILED, "2x10 stale _ _ 2x20"),
                eval_times=("22m", "24m"),
                name="no new loss across a Collector outage",
            ),
            Case(
                _sdk_failed(_SPANS_FAILED, "2x10 _x8 2x20"),
                eval_times=("26m", "27m"),
                name="no new loss across an 8-minute silence",
            ),
        ),
    ),
)
