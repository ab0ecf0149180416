"""The Prometheus names of otel-agents metrics, on both paths a user can take.

Metrics reach Prometheus in one of two ways, and each path translates OpenTelemetry names by
its own rules:

* **The compose path**: the SDK exports OTLP to the OpenTelemetry Collector (contrib), whose
  ``prometheus`` exporter (or ``prometheusremotewrite``) translates names with
  ``github.com/prometheus/otlptranslator`` (formerly ``pkg/translator/prometheus`` in
  collector-contrib), using the default ``UnderscoreEscapingWithSuffixes`` strategy.
* **The direct path** (CI, and anyone scraping a process): ``opentelemetry-exporter-prometheus``
  serves ``/metrics`` through ``prometheus_client``, which adds the unit and ``_total`` itself.

This module derives, for a :class:`~otel_agents.semconv.MetricSpec`, the name each path
produces (:func:`collector_names`, :func:`sdk_exporter_names`), and the label name each path
gives an attribute key (:func:`collector_label_name`, :func:`sdk_exporter_label_name`).
Dashboards and alert rules use :func:`prometheus_names` and :func:`prometheus_label_name`,
which refuse to answer when the two paths disagree.

The rules, as both paths apply them to our metrics:

* the name is split on every character outside ``[a-zA-Z0-9:]`` and re-joined with ``_``;
* the unit becomes a suffix: ``s`` -> ``seconds``, ``By`` -> ``bytes``, ``%`` -> ``percent``,
  ``X/s`` -> ``X_per_second``; ``{annotations}`` and ``1`` add nothing;
* monotonic counters end in ``_total``; histograms are stored as ``_bucket``, ``_sum`` and
  ``_count`` series; up-down counters and gauges are Prometheus gauges with no type suffix;
* attribute keys become labels with every character outside ``[a-zA-Z0-9_]`` replaced by ``_``.

One rule differs: the Collector appends ``_ratio`` to a *gauge* whose unit is ``1``
(``system.cpu.utilization`` -> ``system_cpu_utilization_ratio``) and the Python exporter does
not. The semantic conventions fix those units, so the SDK keeps them and our Collector config
(``collector/otel-collector.yaml``) clears the unit of such gauges with the OTTL statement
:data:`DIMENSIONLESS_GAUGE_STATEMENT` before translation. :func:`collector_names` applies that
statement unless asked not to (``pipeline_rules=False``), so the derivation describes exactly
the pipeline we ship.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from otel_agents._errors import invalid_value
from otel_agents.semconv import InstrumentKind, MetricSpec

__all__ = [
    "DIMENSIONLESS_GAUGE_STATEMENT",
    "PrometheusNames",
    "PrometheusType",
    "collector_label_name",
    "collector_names",
    "prometheus_label_name",
    "prometheus_names",
    "sdk_exporter_label_name",
    "sdk_exporter_names",
]

#: The OTTL statement (Collector ``transform`` processor, ``metric_statements``) that keeps
#: dimensionless gauges free of the ``_ratio`` suffix, as the Python exporter leaves them.
DIMENSIONLESS_GAUGE_STATEMENT = (
    'set(metric.unit, "") where metric.unit == "1" and metric.type == METRIC_DATA_TYPE_GAUGE'
)

# UCUM units both translators spell out; identical tables on both paths (the Python exporter
# copied the Collector's). Anything else is kept, sanitized.
_UNIT_WORDS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
# The denominator of a rate unit ("X/s") is spelled in the singular.
_PER_UNIT_WORDS = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}

_METRIC_CHAR = re.compile(r"[^a-zA-Z0-9:]")  # characters a classic metric name cannot keep
_METRIC_RUN = re.compile(r"[^a-zA-Z0-9:]+")
_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")
_LABEL_RUN = re.compile(r"[^a-zA-Z0-9]+")
_UNDERSCORES = re.compile(r"_{2,}")
_ANNOTATION = re.compile(r"{.*}")


class PrometheusType(StrEnum):
    """The Prometheus metric type an OpenTelemetry instrument becomes."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


class _OtlpType(StrEnum):
    """The OTLP data type an instrument's default aggregation produces."""

    MONOTONIC_SUM = "monotonic_sum"
    NON_MONOTONIC_SUM = "non_monotonic_sum"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


_OTLP_TYPES = {
    InstrumentKind.COUNTER: _OtlpType.MONOTONIC_SUM,
    InstrumentKind.OBSERVABLE_COUNTER: _OtlpType.MONOTONIC_SUM,
    InstrumentKind.UP_DOWN_COUNTER: _OtlpType.NON_MONOTONIC_SUM,
    InstrumentKind.OBSERVABLE_UP_DOWN_COUNTER: _OtlpType.NON_MONOTONIC_SUM,
    InstrumentKind.GAUGE: _OtlpType.GAUGE,
    InstrumentKind.OBSERVABLE_GAUGE: _OtlpType.GAUGE,
    InstrumentKind.HISTOGRAM: _OtlpType.HISTOGRAM,
}
# Cumulative non-monotonic sums are Prometheus gauges on both paths.
_PROMETHEUS_TYPES = {
    _OtlpType.MONOTONIC_SUM: PrometheusType.COUNTER,
    _OtlpType.NON_MONOTONIC_SUM: PrometheusType.GAUGE,
    _OtlpType.GAUGE: PrometheusType.GAUGE,
    _OtlpType.HISTOGRAM: PrometheusType.HISTOGRAM,
}


@dataclass(frozen=True)
class PrometheusNames:
    """How one metric is named once stored in Prometheus.

    Attributes:
        metric: The name a PromQL query selects: with ``_total`` for counters, and the base
            name (without ``_bucket``/``_sum``/``_count``) for histograms.
        type: The Prometheus metric type.
    """

    metric: str
    type: PrometheusType

    @property
    def series(self) -> tuple[str, ...]:
        """Every series name Prometheus stores for this metric."""
        if self.type is PrometheusType.HISTOGRAM:
            return tuple(f"{self.metric}_{part}" for part in ("bucket", "sum", "count"))
        return (self.metric,)


# --------------------------------------------------------------------------------------
# The Collector (prometheus/otlptranslator, UnderscoreEscapingWithSuffixes)
# --------------------------------------------------------------------------------------
def collector_names(spec: MetricSpec, *, pipeline_rules: bool = True) -> PrometheusNames:
    """The Prometheus names the Collector's ``prometheus`` exporter gives ``spec``.

    Args:
        spec: The metric, as declared in :mod:`otel_agents.semconv`.
        pipeline_rules: Apply our Collector config's ``transform`` statement
            (:data:`DIMENSIONLESS_GAUGE_STATEMENT`) before translating. ``False`` gives what a
            Collector without it produces.
    """
    otlp_type = _OTLP_TYPES[spec.kind]
    unit = spec.unit
    if pipeline_rules and unit == "1" and otlp_type is _OtlpType.GAUGE:
        unit = ""
    tokens = [token for token in _METRIC_RUN.split(spec.name) if token]
    main, per = _collector_unit_suffixes(unit)
    if main in tokens:
        main = ""
    per = "" if per == "per_" else per.removesuffix("_")
    if per in tokens:
        per = ""
    if per:
        main = main.removesuffix("_")
    tokens += [suffix for suffix in (main, per) if suffix]
    if otlp_type is _OtlpType.MONOTONIC_SUM:
        tokens = [token for token in tokens if token != "total"] + ["total"]
    if unit == "1" and otlp_type is _OtlpType.GAUGE:
        tokens = [token for token in tokens if token != "ratio"] + ["ratio"]
    name = "_".join(tokens)
    if name[:1].isdigit():
        name = "_" + name
    if not name.strip("_"):
        raise invalid_value("spec.name", spec.name, "a metric name with a letter or digit")
    return PrometheusNames(name, _PROMETHEUS_TYPES[otlp_type])


def _collector_unit_suffixes(unit: str) -> tuple[str, str]:
    """The main and ``per_`` unit suffixes, cleaned up; ``{annotated}`` parts give none."""
    main_unit, slash, per_unit = unit.partition("/")
    main_unit, per_unit = main_unit.strip(), per_unit.strip()
    main = ""
    if main_unit and not _has_brace(main_unit):
        main = _clean_unit(_UNIT_WORDS.get(main_unit, main_unit))
    per = ""
    if slash and per_unit and not _has_brace(per_unit):
        word = _PER_UNIT_WORDS.get(per_unit, per_unit)
        if word:
            per = _clean_unit("per_" + word)
    return main, per


def _clean_unit(unit: str) -> str:
    return _UNDERSCORES.sub("_", _METRIC_CHAR.sub("_", unit)).removeprefix("_")


def _has_brace(unit: str) -> bool:
    return "{" in unit or "}" in unit


def collector_label_name(key: str) -> str:
    """The label the Collector's ``prometheus`` exporter gives the attribute ``key``.

    Every character outside ``[a-zA-Z0-9_]`` becomes ``_``, runs of ``_`` collapse to one
    (a reserved ``__`` prefix is kept), and a leading digit gains a ``key_`` prefix.
    """
    reserved = key.startswith("__") and key[2:3] != "_"
    body = key[2:] if reserved else key
    label = _UNDERSCORES.sub("_", _LABEL_CHAR.sub("_", body))
    if reserved:
        label = "__" + label
    if label[:1].isdigit():
        label = "key_" + label
    if not label.strip("_"):
        raise invalid_value("key", key, "an attribute key with a letter or digit")
    return label


# --------------------------------------------------------------------------------------
# opentelemetry-exporter-prometheus, as prometheus_client exposes it
# --------------------------------------------------------------------------------------
def sdk_exporter_names(spec: MetricSpec) -> PrometheusNames:
    """The Prometheus names ``opentelemetry-exporter-prometheus`` gives ``spec`` when scraped.

    The exporter sanitizes the name and maps the unit; ``prometheus_client`` then appends the
    unit unless the name already ends with it, and ``_total`` to counter samples (after
    dropping a ``_total`` the name already had).
    """
    prometheus_type = _PROMETHEUS_TYPES[_OTLP_TYPES[spec.kind]]
    name = spec.name
    if name[:1].isdigit():
        name = "_" + name[1:]
    name = _METRIC_RUN.sub("_", name)
    if prometheus_type is PrometheusType.COUNTER:
        name = name.removesuffix("_total")
    unit = _sdk_exporter_unit(spec.unit)
    if unit and not name.endswith("_" + unit):
        name = f"{name}_{unit}"
    if prometheus_type is PrometheusType.COUNTER:
        name += "_total"
    if not name.strip("_"):
        raise invalid_value("spec.name", spec.name, "a metric name with a letter or digit")
    return PrometheusNames(name, prometheus_type)


def _sdk_exporter_unit(unit: str) -> str:
    unit = _ANNOTATION.sub("", unit)
    if unit in _UNIT_WORDS:
        return _UNIT_WORDS[unit]
    top, slash, bottom = unit.partition("/")
    if slash:
        bottom = _METRIC_RUN.sub("_", bottom)
        if bottom:
            top = _METRIC_RUN.sub("_", top)
            top = _UNIT_WORDS.get(top, top)
            bottom = _PER_UNIT_WORDS.get(bottom, bottom)
            return f"{top}_per_{bottom}" if top else f"per_{bottom}"
    return _METRIC_RUN.sub("_", unit).strip("_")


def sdk_exporter_label_name(key: str) -> str:
    """The label ``opentelemetry-exporter-prometheus`` gives the attribute ``key``.

    A leading digit is replaced by ``_``, then every run of characters outside
    ``[a-zA-Z0-9]`` (underscores included) becomes one ``_``.
    """
    if key[:1].isdigit():
        key = "_" + key[1:]
    label = _LABEL_RUN.sub("_", key)
    if not label.strip("_"):
        raise invalid_value("key", key, "an attribute key with a letter or digit")
    return label


# --------------------------------------------------------------------------------------
# The contract: one name on both paths
# --------------------------------------------------------------------------------------
def prometheus_names(spec: MetricSpec) -> PrometheusNames:
    """The Prometheus names of ``spec``, the same whether scraped directly or via the Collector.

    Use these in dashboards, alert rules and tests.

    Raises:
        InvalidValueError: The two paths name ``spec`` differently; rename it or change its
            unit in :mod:`otel_agents.semconv` (``tests/test_naming_contract.py`` checks every
            declared metric).
    """
    via_collector = collector_names(spec)
    direct = sdk_exporter_names(spec)
    if via_collector != direct:
        raise invalid_value(
            "spec",
            spec.name,
            f"a metric named alike on both paths, not {via_collector.metric!r} via the "
            f"Collector and {direct.metric!r} from the Python exporter",
        )
    return direct


def prometheus_label_name(key: str) -> str:
    """The Prometheus label of the attribute ``key``, the same on both paths.

    Raises:
        InvalidValueError: The two paths translate ``key`` differently.
    """
    via_collector, direct = collector_label_name(key), sdk_exporter_label_name(key)
    if via_collector != direct:
        raise invalid_value(
            "key",
            key,
            f"an attribute key labelled alike on both paths, not {via_collector!r} via the "
            f"Collector and {direct!r} from the Python exporter",
        )
    return direct
