"""Guards around the exporters :func:`configure` builds, so shutdown has a deadline.

The SDK's own shutdown is unbounded in practice: a batch processor waits up to 30 s for its
worker, every export retries with backoff until the OTLP timeout (10 s), and traces, metrics
and logs stop one after the other. Behind a Collector that refuses connections or accepts
them and never answers, ``shutdown()`` blocked 13-20 s for traces and metrics alone (40-49 s
with logs), past Docker's 10 s stop timeout, so the container was killed mid-flush.

Each exporter is wrapped in a guard that counts what it was given and what it delivered.
:meth:`Guards.abort` makes every guard give up: an export waiting out a retry backoff ends at
once (the wrapped exporter's ``shutdown()`` interrupts the wait), later exports fail without
a network call, and an export stuck on a socket is left to its daemon thread. Counting
processors record how many spans and log records entered the pipelines, so what was lost
(queued, in flight or failed) can be told in one log line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_agents._logs import redacting_logger

__all__ = ["Guards", "Ledger"]

_logger = redacting_logger("otel_agents")

#: What each signal's items are called in the shutdown report.
SPANS, DATA_POINTS, LOG_RECORDS = "spans", "metric data points", "log records"


@dataclass
class Ledger:
    """Items that entered one pipeline and items its exporters delivered."""

    what: str
    accepted: int = 0
    exported: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def accept(self, count: int) -> None:
        with self._lock:
            self.accepted += count

    def delivered(self, count: int) -> None:
        with self._lock:
            self.exported += count

    @property
    def lost(self) -> int:
        """Accepted but never delivered: still queued, in flight, or failed."""
        with self._lock:
            return max(0, self.accepted - self.exported)


class _Guard:
    """What every guard does: give up on request, stop the wrapped exporter once."""

    def __init__(self, wrapped: Any, ledger: Ledger) -> None:
        #: The real exporter (tests and tools inspect it).
        self.wrapped = wrapped
        self.ledger = ledger
        self._aborted = threading.Event()
        self._stop_lock = threading.Lock()
        self._stopped = False

    def abort(self) -> None:
        """Fail the export in progress as soon as possible, and every later one at once."""
        self._aborted.set()
        self._stop()

    def _stop(self, **kwargs: Any) -> None:
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            self.wrapped.shutdown(**kwargs)
        except Exception:  # an exporter must never break the host program
            _logger.warning("stopping the exporter %r failed", self.wrapped, exc_info=True)

    def _call(self, export: Any, count: int, success: object, failure: object) -> Any:
        if self._aborted.is_set():
            return failure
        try:
            result = export()
        except Exception:
            _logger.warning("the exporter %r raised", self.wrapped, exc_info=True)
            return failure
        if result == success:
            self.ledger.delivered(count)
        return result


class GuardedSpanExporter(_Guard, SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result: SpanExportResult = self._call(
            lambda: self.wrapped.export(spans),
            len(spans),
            SpanExportResult.SUCCESS,
            SpanExportResult.FAILURE,
        )
        return result

    def shutdown(self) -> None:
        self._stop()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._aborted.is_set() or bool(self.wrapped.force_flush(timeout_millis))


class GuardedLogExporter(_Guard, LogRecordExporter):
    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        result: LogRecordExportResult = self._call(
            lambda: self.wrapped.export(batch),
            len(batch),
            LogRecordExportResult.SUCCESS,
            LogRecordExportResult.FAILURE,
        )
        return result

    def shutdown(self) -> None:
        self._stop()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._aborted.is_set() or bool(self.wrapped.force_flush(timeout_millis))


class GuardedMetricExporter(_Guard, MetricExporter):
    def __init__(self, wrapped: MetricExporter, ledger: Ledger) -> None:
        _Guard.__init__(self, wrapped, ledger)
        # The reader asks its exporter for these; they must be the wrapped exporter's. An
        # entry-point exporter that skipped MetricExporter.__init__ gets the defaults.
        MetricExporter.__init__(
            self,
            preferred_temporality=getattr(wrapped, "_preferred_temporality", None),
            preferred_aggregation=getattr(wrapped, "_preferred_aggregation", None),
        )

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        count = _data_points(metrics_data)
        self.ledger.accept(count)
        result: MetricExportResult = self._call(
            lambda: self.wrapped.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            count,
            MetricExportResult.SUCCESS,
            MetricExportResult.FAILURE,
        )
        return result

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._stop(timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._aborted.is_set() or bool(self.wrapped.force_flush(timeout_millis))


def _data_points(metrics_data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource_metrics in metrics_data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    )


class _SpanCounter(SpanProcessor):
    """Counts the sampled spans that reach the batch processors (added before them)."""

    def __init__(self, ledgers: list[Ledger]) -> None:
        self._ledgers = ledgers

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            for ledger in self._ledgers:
                ledger.accept(1)


class _LogCounter(LogRecordProcessor):
    """Counts the log records that reach the batch processors (added before them)."""

    def __init__(self, ledgers: list[Ledger]) -> None:
        self._ledgers = ledgers

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        for ledger in self._ledgers:
            ledger.accept(1)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_G = TypeVar("_G", bound=_Guard)


class Guards:
    """Every guard one :func:`configure` call made, and what each pipeline lost."""

    def __init__(self) -> None:
        self._guards: list[_Guard] = []
        self._span_ledgers: list[Ledger] = []
        self._log_ledgers: list[Ledger] = []

    def span_exporter(self, exporter: SpanExporter) -> GuardedSpanExporter:
        ledger = Ledger(SPANS)
        self._span_ledgers.append(ledger)
        return self._keep(GuardedSpanExporter(exporter, ledger))

    def metric_exporter(self, exporter: MetricExporter) -> GuardedMetricExporter:
        return self._keep(GuardedMetricExporter(exporter, Ledger(DATA_POINTS)))

    def log_exporter(self, exporter: LogRecordExporter) -> GuardedLogExporter:
        ledger = Ledger(LOG_RECORDS)
        self._log_ledgers.append(ledger)
        return self._keep(GuardedLogExporter(exporter, ledger))

    def span_counter(self) -> SpanProcessor:
        """A processor to add before the batch processors: counts spans entering them."""
        return _SpanCounter(self._span_ledgers)

    def log_counter(self) -> LogRecordProcessor:
        return _LogCounter(self._log_ledgers)

    def abort(self) -> None:
        """Make every exporter give up (see the module docstring)."""
        for guard in self._guards:
            guard.abort()

    def lost(self) -> dict[str, int]:
        """Items not delivered, by kind (``spans``, ``metric data points``, ``log records``).

        With several exporters for one signal, the worst of them counts.
        """
        lost: dict[str, int] = {}
        for guard in self._guards:
            ledger = guard.ledger
            lost[ledger.what] = max(lost.get(ledger.what, 0), ledger.lost)
        return lost

    def _keep(self, guard: _G) -> _G:
        self._guards.append(guard)
        return guard


def stop_within(
    stops: Sequence[tuple[str, Any]], guards: Guards, timeout: float
) -> tuple[bool, dict[str, int]]:
    """Run every ``(name, stop)`` side by side on daemon threads; give up after ``timeout``.

    A fraction of the time is kept back: when the stops are not done by then, the guards abort
    (ending backoffs, failing further exports) and the stops get the rest to record how their
    last export ended. Whatever still runs after ``timeout`` is abandoned to its daemon thread.

    Returns:
        Whether every stop finished in time, and what each pipeline lost (:meth:`Guards.lost`).
    """
    deadline = time.monotonic() + timeout
    threads = []
    for name, stop in stops:
        thread = threading.Thread(
            target=_failsafe, args=(name, stop), name=f"otel-agents-stop-{name}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no new threads (interpreter finalizing): stop it here
            _failsafe(name, stop)
            continue
        threads.append(thread)
    reserve = min(_ABORT_RESERVE, timeout / 5)
    _join(threads, deadline - reserve)
    finished = not any(thread.is_alive() for thread in threads)
    if not finished:
        guards.abort()
        _join(threads, deadline)
    return finished, guards.lost()


#: Seconds of the shutdown timeout kept for aborting and recording the outcome.
_ABORT_RESERVE = 0.5


def _join(threads: list[threading.Thread], deadline: float) -> None:
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _failsafe(name: str, stop: Any) -> None:
    try:
        stop()
    except Exception:  # exporters must never break the host program
        _logger.warning("stopping the %s failed", name, exc_info=True)
