"""The performance tracker: the seed's ``PerformanceTracker`` as OpenTelemetry metrics.

Every :class:`MetricType` maps to one instrument of the telemetry contract
(:mod:`otel_agents.semconv`): durations to histograms in seconds, usage to gauges, counts to
counters, each with the agent id as ``gen_ai.agent.id``. A bounded in-process history serves
the seed's queries, summaries, snapshots and JSON exports, from the same measurements the
exporters send.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from opentelemetry import metrics

from otel_agents import semconv
from otel_agents._config_params import resolve_mapping
from otel_agents._error_types import ErrorTypes
from otel_agents._errors import invalid_type, invalid_value
from otel_agents._export import (
    _PLAIN,
    REDACTED,
    _secret_keys as _known_secret_keys,
    export_envelope,
    is_secret_key,
    redact,
    redact_string,
    redact_value,
    write_json_atomic,
)
from otel_agents._history import BoundedHistory, TimeRange, resolve_time_range, summarize
from otel_agents._latest import LatestReadings
from otel_agents._logs import redacting_logger
from otel_agents._metric_types import (
    KINDS,
    RECORD_METHODS,
    MetricType,
    coerce_metric_type,
    number,
    out_of_range,
)
from otel_agents._runtime import SYSTEM_CLOCK, Clock, FailureLog, PeriodicThread, failsafe_call
from otel_agents._seed_params import TRACKER, TRACKER_PARAMS
from otel_agents._version import __version__, scope_name

__all__ = ["MetricType", "PerformanceMetric", "PerformanceSnapshot", "PerformanceTracker"]

_SCOPE = scope_name(__name__)
_logger = redacting_logger(_SCOPE)

MetricCallback = Callable[["PerformanceMetric"], Any]


class PerformanceMetric(NamedTuple):
    """One recorded value, as kept in the tracker's history."""

    metric_type: MetricType
    value: float
    timestamp: float
    agent_id: str | None
    context: dict[str, Any] | None
    metadata: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric_type": self.metric_type.value,
            "value": self.value,
            "unit": self.metric_type.unit,
            "timestamp": self.timestamp,
            "agent_id": self.agent_id,
            "context": self.context or {},
            "metadata": self.metadata or {},
        }


@dataclass(frozen=True)
class PerformanceSnapshot:
    """Per-agent, per-metric statistics at one moment."""

    timestamp: float
    metric_count: int
    agents: dict[str, dict[str, dict[str, float | int]]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            "metric_count": self.metric_count,
            "agents": self.agents,
        }


class PerformanceTracker:
    """Records agent performance metrics as OpenTelemetry measurements.

    Args:
        config: the seed's configuration dictionary: ``max_metrics_history`` (10000),
            ``snapshot_interval`` seconds (60; 0 turns automatic snapshots off),
            ``metric_retention_days`` (30), and our ``max_snapshots`` (100),
            ``snapshot_export_path`` (None), ``metric_attribute_keys`` (``("operation",)``)
            and ``gauge_max_age`` seconds (300): a gauge reading (CPU, memory, throughput,
            error rate, queue size) is exported that long after it was recorded, then the
            series ends, so an agent that went silent stops counting as busy.
        meter_provider: where instruments come from; the global provider by default.
        clock: timestamps come from ``clock.time()``, gauge ages from ``clock.monotonic()``
            (a wall-clock step does not keep or drop a reading); inject a fake in tests.

    Automatic snapshots run on a daemon thread; :meth:`stop` (or ``with tracker:``) ends it.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        meter_provider: metrics.MeterProvider | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = resolve_mapping(TRACKER, TRACKER_PARAMS, config)
        self._clock = clock or SYSTEM_CLOCK
        self._now = self._clock.time
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
        # Per type: the bound method that records a value (add/record/set) and the range limit.
        self._instruments: dict[MetricType, tuple[Callable[..., None], float]] = {}
        for metric_type, kind in KINDS.items():
            if kind.spec.kind is semconv.InstrumentKind.OBSERVABLE_GAUGE:
                gauge = LatestReadings(
                    meter_provider,
                    _SCOPE,
                    kind.spec,
                    self.config["gauge_max_age"],
                    self._clock.monotonic,
                )
                self._instruments[metric_type] = (gauge.set, kind.maximum)
                continue
            instrument = semconv.create_instrument(meter, kind.spec)
            method = getattr(instrument, RECORD_METHODS[kind.spec.kind])
            self._instruments[metric_type] = (method, kind.maximum)
        self._error_types = ErrorTypes()
        self._context_keys = {
            key: semconv.CONTEXT_KEY_ATTRIBUTES.get(key, semconv.AGENT_CONTEXT_PREFIX + key)
            for key in self.config["metric_attribute_keys"]
        }
        retention = self.config["metric_retention_days"] * 86_400.0
        self._history: BoundedHistory[PerformanceMetric] = BoundedHistory(
            self.config["max_metrics_history"],
            _timestamp,
            retention=retention,
            parameter="max_metrics_history",
        )
        self._snapshots: BoundedHistory[PerformanceSnapshot] = BoundedHistory(
            self.config["max_snapshots"],
            lambda snapshot: snapshot.timestamp,
            retention=retention,
            parameter="max_snapshots",
        )
        self._append = self._history.append
        self._callbacks: list[MetricCallback] = []
        self._callback_failures = FailureLog(
            _logger, "tracker callback %r raised; recording goes on (logged once)"
        )
        self._snapshot_worker = PeriodicThread(
            self.config["snapshot_interval"],
            self.take_snapshot,
            name="otel-agents-tracker-snapshots",
            logger=_logger,
            weak=True,  # a dropped tracker's thread ends with it
        )
        if self.config["snapshot_interval"] > 0:
            self._snapshot_worker.start()

    # -- recording -------------------------------------------------------------------------
    def record_metric(
        self,
        metric_type: MetricType | str,
        value: float,
        agent_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> PerformanceMetric:
        """Record one value.

        Args:
            metric_type: a :class:`MetricType` or its value, e.g. ``"response_time"``.
            value: in the type's unit: seconds for durations, 0-100 for percentages, bytes
                for memory; counts are added to a counter.
            agent_id: the agent the value belongs to (``gen_ai.agent.id``).
            context: details kept in history; keys named in ``metric_attribute_keys`` with
                string values also become metric attributes. An ``error_count``'s
                ``error_type`` (a short identifier such as ``TimeoutError``) becomes
                ``error.type`` on ``agent.errors``: at most 50 distinct values per tracker,
                others ``_OTHER``.
            metadata: details kept in history only.

        Raises:
            InvalidValueError: unknown metric type, NaN, infinity, or a value out of range.
            InvalidTypeError: a value that is not a number, an agent id that is not a string,
                or context/metadata that are not mappings.
        """
        kind = metric_type if type(metric_type) is MetricType else coerce_metric_type(metric_type)
        value_type = type(value)
        if value_type is not float and value_type is not int:
            value = number(value)
        record_value, maximum = self._instruments[kind]
        if not 0.0 <= value <= maximum:
            raise out_of_range(kind, value)
        attributes: dict[str, Any] = {}
        if agent_id is not None:
            if type(agent_id) is not str or not agent_id:
                raise _bad_agent_id(agent_id)
            attributes[_AGENT_ID] = agent_id
        if context is not None:
            if type(context) is not dict and not isinstance(context, Mapping):
                raise invalid_type("context", context, "a mapping such as {'operation': 'plan'}")
            # One pass both promotes allow-listed keys to attributes and copies the context
            # with secrets redacted (this is the hot path: see benchmarks/bench_tracker.py).
            cleaned: dict[str, Any] = {}
            promoted = self._context_keys
            for key, item in context.items():
                attribute = promoted.get(key)
                if attribute is not None and type(item) is str:
                    attributes[attribute] = redact_string(item)
                secret = _known_secret(key)
                if secret is None:
                    secret = is_secret_key(key)
                if secret:
                    cleaned[key] = REDACTED
                elif type(item) is str:  # a URL's credentials are masked (redact_string)
                    cleaned[key] = redact_string(item)
                elif type(item) in _PLAIN:
                    cleaned[key] = item
                else:
                    cleaned[key] = redact_value(item)
            if kind is _ERROR_COUNT and _ERROR_TYPE_KEY in context:
                attributes[semconv.ERROR_TYPE] = self._error_types.label(context[_ERROR_TYPE_KEY])
            context = cleaned
        if metadata is not None:
            if type(metadata) is not dict and not isinstance(metadata, Mapping):
                raise invalid_type("metadata", metadata, "a mapping")
            metadata = redact(metadata)
        record_value(value, attributes)
        record = _new_record(
            PerformanceMetric, (kind, value, self._now(), agent_id, context, metadata)
        )
        self._append(record)
        if self._callbacks:
            self._notify(record)
        return record

    def add_callback(self, callback: MetricCallback) -> None:
        """Call ``callback(metric)`` after each record. A callback that raises is logged once."""
        if not callable(callback):
            raise invalid_type("callback", callback, "a callable taking a PerformanceMetric")
        self._callbacks = [*self._callbacks, callback]

    def remove_callback(self, callback: MetricCallback) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        self._callbacks = [c for c in self._callbacks if c != callback]

    def _notify(self, record: PerformanceMetric) -> None:
        for callback in self._callbacks:
            failsafe_call(callback, record, failures=self._callback_failures)

    # -- queries ---------------------------------------------------------------------------
    def get_metrics(
        self,
        metric_type: MetricType | str | None = None,
        agent_id: str | None = None,
        time_range: TimeRange = None,
    ) -> list[PerformanceMetric]:
        """Recorded values, oldest first, filtered by type, agent and :data:`TimeRange`."""
        kind = None if metric_type is None else coerce_metric_type(metric_type)
        now = self._clock.time()
        self._history.prune(now)
        return self._history.select(
            time_range,
            lambda m: (
                (kind is None or m.metric_type is kind)
                and (agent_id is None or m.agent_id == agent_id)
            ),
            now,
        )

    def get_agent_performance_summary(
        self, agent_id: str, time_range: TimeRange = None
    ) -> dict[str, Any]:
        """Count, min, max, mean, p50, p95 and p99 of each metric type recorded for an agent."""
        if type(agent_id) is not str or not agent_id:
            raise _bad_agent_id(agent_id)
        records = self.get_metrics(agent_id=agent_id, time_range=time_range)
        return {
            "agent_id": agent_id,
            "total_metrics": len(records),
            "metrics": _summaries(records),
        }

    def get_agents(self) -> list[str]:
        """Agent ids seen in the history, sorted."""
        return sorted({m.agent_id for m in self._history.snapshot() if m.agent_id is not None})

    # -- snapshots and export --------------------------------------------------------------
    def take_snapshot(self) -> PerformanceSnapshot:
        """Summarize the history per agent now, keep the snapshot, and export it if set up."""
        now = self._clock.time()
        self._history.prune(now)
        records = self._history.snapshot()
        by_agent: dict[str, list[PerformanceMetric]] = {}
        for record in records:
            by_agent.setdefault(record.agent_id or "", []).append(record)
        snapshot = PerformanceSnapshot(
            now, len(records), {a: _summaries(r) for a, r in by_agent.items()}
        )
        self._snapshots.append(snapshot)
        path = self.config["snapshot_export_path"]
        if path is not None:
            snapshots = [s.to_dict() for s in self.get_snapshots()]
            write_json_atomic(path, export_envelope("snapshots", {"snapshots": snapshots}))
        return snapshot

    def get_snapshots(self, time_range: TimeRange = None) -> list[PerformanceSnapshot]:
        return self._snapshots.select(time_range, now=self._clock.time())

    def export_metrics(
        self, filepath: str | Path, time_range: TimeRange = None, *, encrypt: bool = False
    ) -> Path:
        """Write the history (and snapshots) in ``time_range`` to ``filepath`` as JSON.

        ``encrypt=True``: encrypted with ``OTEL_AGENTS_EXPORT_KEY``
        (:mod:`otel_agents._encryption`).

        The file is replaced atomically; on failure :class:`~otel_agents.ExportError` is
        raised and the previous file is left intact.
        """
        start, end = resolve_time_range(time_range, self._clock.time())
        records = self.get_metrics(time_range=time_range)
        payload = {
            "time_range": {"start": _finite(start), "end": _finite(end)},
            "config": {k: v for k, v in self.config.items() if k != "snapshot_export_path"},
            "metric_count": len(records),
            "metrics": [record.to_dict() for record in records],
            "snapshots": [s.to_dict() for s in self.get_snapshots(time_range)],
        }
        return write_json_atomic(filepath, export_envelope("metrics", payload), encrypt=encrypt)

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop automatic snapshots. Safe to call twice."""
        self._snapshot_worker.stop(timeout)

    def __enter__(self) -> PerformanceTracker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


_AGENT_ID = semconv.GEN_AI_AGENT_ID
_ERROR_COUNT = MetricType.ERROR_COUNT
_ERROR_TYPE_KEY = semconv.ERROR_TYPE_CONTEXT_KEY
# The memo's bound lookup, resolved once (hot path).
_known_secret = _known_secret_keys.get
# Builds a PerformanceMetric without the Python-level NamedTuple.__new__ frame (hot path).
_new_record = tuple.__new__


def _timestamp(record: PerformanceMetric) -> float:
    return record.timestamp


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _summaries(records: Iterable[PerformanceMetric]) -> dict[str, dict[str, Any]]:
    values: dict[MetricType, list[float]] = {}
    for record in records:
        values.setdefault(record.metric_type, []).append(record.value)
    return {
        kind.value: {**summarize(vals), "unit": kind.unit}
        for kind, vals in sorted(values.items(), key=lambda item: item[0].value)
    }


def _bad_agent_id(agent_id: object) -> Exception:
    if isinstance(agent_id, str):
        return invalid_value("agent_id", agent_id, "a non-empty string such as 'agent_1'")
    return invalid_type("agent_id", agent_id, "a non-empty string such as 'agent_1'")
