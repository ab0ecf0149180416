"""``PerformanceProfiler``: the seed's profiler as OpenTelemetry spans and a duration histogram.

Each profiled call or block becomes an INTERNAL span named after the profile, and one
``agent.profile.duration`` measurement (seconds) with the profile name as its attribute::

    profiler = PerformanceProfiler()

    @profiler.profile_function("critical_function")
    def critical_function(): ...

    with profiler.profile("data_processing", {"batch_size": 1000}):
        process(batch)

Both forms work for sync and async code; for a generator or async generator function the
span covers the iteration, from the first item to the last (``otel_agents._profiled_generators``).
A failure is recorded on the span (status ERROR described by the exception's type,
``error.type``, and an exception event whose message and stack trace are redacted of
credential-like values) and re-raised unchanged. Cancellation, ``KeyboardInterrupt`` and a
generator closed early are not failures: the span ends normally. Recent profiles and periodic
system snapshots stay in bounded histories for :meth:`get_profiling_summary`.

The hot path starts, attaches and ends the span directly: a profiled call costs no more
than a hand-written span plus one histogram record.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, ParamSpec, TypeVar, cast, overload

from opentelemetry import context as otel_context, metrics, trace
from opentelemetry.trace import Span, SpanKind, TracerProvider

from otel_agents import semconv
from otel_agents._config_params import Source, resolve, resolve_mapping
from otel_agents._errors import invalid_type
from otel_agents._exception_events import error_status, record_exception
from otel_agents._export import export_envelope, write_json_atomic
from otel_agents._history import BoundedHistory, TimeRange, summarize
from otel_agents._logs import redacting_logger
from otel_agents._profile_block import Profile as _Profile, detach_here, span_attributes
from otel_agents._profiled_generators import NOT_ERRORS, wrap_async_generator, wrap_generator
from otel_agents._profiler_metrics import CustomMetricRecord, CustomMetrics
from otel_agents._runtime import BoundedCache, PeriodicThread
from otel_agents._seed_params import PROFILER, PROFILER_PARAMS
from otel_agents._system_metrics import SystemReader
from otel_agents._version import __version__, scope_name

__all__ = ["PerformanceProfiler", "ProfileRecord"]

_logger = redacting_logger(scope_name(__name__))

P = ParamSpec("P")
R = TypeVar("R")

(_PROFILING_ENABLED,) = [p for p in PROFILER_PARAMS if p.key == "profiling_enabled"]
_INTERNAL = SpanKind.INTERNAL
_perf_counter = time.perf_counter
_wall_clock = time.time
_attach = otel_context.attach
_set_span_in_context = trace.set_span_in_context


class ProfileRecord(NamedTuple):
    """One finished profile in the in-process history."""

    name: str
    timestamp: float  # Unix seconds when it finished
    duration: float  # seconds
    error_type: str | None


def _error_type(exc: BaseException) -> str:
    return type(exc).__qualname__


class PerformanceProfiler:
    """Profiles functions and blocks as spans plus an ``agent.profile.duration`` histogram.

    Args:
        config: the seed's settings: ``profiling_enabled`` (default ``True``; ``False`` makes
            profiling a near-free no-op), ``snapshot_interval`` (seconds between system
            snapshots, default 30; 0 turns them off) and ``max_history`` (profiles, and
            system snapshots, kept in memory; default 5000). Keys of other otel-agents
            components are ignored, so one seed-style dictionary can configure them all.
        tracer_provider: where spans go; the global provider by default.
        meter_provider: where the histogram goes; the global provider by default.

    System snapshots (:meth:`get_system_metrics` readings) are taken on a daemon thread
    while profiling is enabled; :meth:`stop` (or ``with profiler:``) ends it.

    Raises:
        ConfigurationError: an unknown key or a bad value in ``config``.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self.config = resolve_mapping(PROFILER, PROFILER_PARAMS, config)
        self._enabled: bool = self.config["profiling_enabled"]
        self.snapshot_interval: float = self.config["snapshot_interval"]
        self.max_history: int = self.config["max_history"]
        self._tracer = trace.get_tracer(scope_name(__name__), __version__, tracer_provider)
        meter = metrics.get_meter(scope_name(__name__), __version__, meter_provider=meter_provider)
        self._duration = semconv.create_instrument(meter, semconv.AGENT_PROFILE_DURATION)
        self.history: BoundedHistory[ProfileRecord] = BoundedHistory(
            self.max_history, lambda record: record.timestamp, parameter="max_history"
        )
        self.system_history: BoundedHistory[dict[str, Any]] = BoundedHistory(
            self.max_history, lambda snapshot: float(snapshot["timestamp"]), parameter="max_history"
        )
        self._system = SystemReader()
        self._custom = CustomMetrics(self.max_history, time.time)
        self._names: BoundedCache[str, dict[str, Any]] = BoundedCache(1024)
        self._blocks: BoundedCache[str, _Profile] = BoundedCache(1024)
        self._snapshot_worker = PeriodicThread(
            self.snapshot_interval,
            self._snapshot,
            name="otel-agents-profiler-snapshots",
            logger=_logger,
            weak=True,  # a dropped profiler's thread ends with it
        )
        if self.snapshot_interval > 0:
            self._snapshot_worker.start()

    @property
    def profiling_enabled(self) -> bool:
        """Whether profiling records anything; checked on every call, so it can be toggled."""
        return self._enabled

    @profiling_enabled.setter
    def profiling_enabled(self, value: bool) -> None:
        self._enabled = resolve(_PROFILING_ENABLED, value, source=Source.KEY)

    # -- recording -------------------------------------------------------------------------
    def _start(self, name: str, attributes: dict[str, Any]) -> tuple[Span, object]:
        span = self._tracer.start_span(name, kind=_INTERNAL, attributes=attributes)
        return span, _attach(_set_span_in_context(span))

    def _finish(
        self,
        span: Span,
        token: object | None,
        started: float,
        name: str,
        metric_attributes: dict[str, Any],
        exc: BaseException | None,
    ) -> None:
        duration = _perf_counter() - started
        error_type = None
        if exc is not None and not isinstance(exc, NOT_ERRORS):
            error_type = _error_type(exc)
            metric_attributes = {**metric_attributes, semconv.ERROR_TYPE: error_type}
            if span.is_recording():
                # The message may quote a secret: redacted on the event, absent from the status.
                record_exception(span, exc)
                span.set_attribute(semconv.ERROR_TYPE, error_type)
                span.set_status(error_status(exc))
        if token is not None:
            detach_here(token)
        span.end()
        self._duration.record(duration, metric_attributes)
        self.history.append(ProfileRecord(name, _wall_clock(), duration, error_type))

    # -- the decorator ---------------------------------------------------------------------
    @overload
    def profile_function(self, profile_name: Callable[P, R]) -> Callable[P, R]: ...

    @overload
    def profile_function(
        self, profile_name: str | None = None
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...

    def profile_function(self, profile_name: Any = None) -> Any:
        """Decorate a sync or async function so each call is profiled.

        Args:
            profile_name: the span and profile name; the function's ``__qualname__`` by
                default. ``@profile_function`` without parentheses works too.
        """
        if callable(profile_name):
            return self.profile_function(None)(profile_name)
        if profile_name is not None and not isinstance(profile_name, str):
            raise invalid_type("profile_name", profile_name, "a string or None")

        def decorate(func: Callable[P, R]) -> Callable[P, R]:
            return self._wrap(func, profile_name or func.__qualname__)

        return decorate

    def _wrap(self, func: Callable[P, R], name: str) -> Callable[P, R]:
        function_name = f"{func.__module__}.{func.__qualname__}"
        span_attributes = {
            semconv.AGENT_PROFILE_NAME: name,
            semconv.CODE_FUNCTION_NAME: function_name,
        }
        metric_attributes = {semconv.AGENT_PROFILE_NAME: name}
        start, finish = self._start, self._finish

        if inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func):

            def begin() -> tuple[Span, float] | None:
                if not self._enabled:
                    return None
                span = self._tracer.start_span(name, kind=_INTERNAL, attributes=span_attributes)
                return span, _perf_counter()

            def end(span: Span, started: float, exc: BaseException | None) -> None:
                finish(span, None, started, name, metric_attributes, exc)

            wrap = wrap_async_generator if inspect.isasyncgenfunction(func) else wrap_generator
            return cast("Callable[P, R]", wrap(cast("Any", func), begin, end))

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if not self._enabled:
                    return await func(*args, **kwargs)
                span, token = start(name, span_attributes)
                started = _perf_counter()
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    finish(span, token, started, name, metric_attributes, exc)
                    raise
                finish(span, token, started, name, metric_attributes, None)
                return result

            return cast("Callable[P, R]", async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self._enabled:
                return func(*args, **kwargs)
            span, token = start(name, span_attributes)
            started = _perf_counter()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                finish(span, token, started, name, metric_attributes, exc)
                raise
            finish(span, token, started, name, metric_attributes, None)
            return result

        return cast("Callable[P, R]", wrapper)

    # -- the context manager ---------------------------------------------------------------
    def profile(self, profile_name: str, context: Mapping[str, Any] | None = None) -> _Profile:
        """A context manager (``with`` or ``async with``) that profiles its block.

        Each entry is its own span and profile, recorded if ``profiling_enabled`` is on when
        the block is entered (not when it was made); a kept block (``step = profile("s")``)
        may be entered again, nested, or by several tasks or threads at once.

        Args:
            profile_name: the span and profile name.
            context: details of this run; its string, number and bool values become span
                attributes ``agent.context.<key>`` (``operation`` becomes
                ``agent.operation``), except keys that may name a credential (``token``,
                ``password``, ``api_key`` ...), which are left out. They never become metric
                attributes.
        """
        if context is None and type(profile_name) is str:
            # On: a block of its own per call (its exit ends its own span wherever it runs,
            # in a generator's context copy too). Off: one shared block per name, no alloc.
            if not self._enabled:
                found = self._blocks.get(profile_name)
                if found is not None:
                    return found
            else:
                attributes = self._names.get(profile_name)
                if attributes is not None:
                    return _Profile(self, profile_name, None, attributes)
        if not isinstance(profile_name, str):
            raise invalid_type("profile_name", profile_name, "a string")
        if context is not None and not isinstance(context, Mapping):
            raise invalid_type("context", context, "a dict or None")
        if context:
            return _Profile(self, profile_name, span_attributes(profile_name, context))
        attributes = self._names.get(profile_name) or self._names.put(
            profile_name, {semconv.AGENT_PROFILE_NAME: profile_name}
        )
        if not self._enabled:
            return self._blocks.put(profile_name, _Profile(self, profile_name, None, attributes))
        return _Profile(self, profile_name, None, attributes)

    # -- views -----------------------------------------------------------------------------
    def get_system_metrics(self) -> dict[str, Any]:
        """CPU, memory, disk, network and process readings as a JSON-friendly dict.

        The same readings, computed the same way, as the ``system.*`` and ``process.*``
        metrics (see :meth:`otel_agents._system_metrics.SystemReader.snapshot`). CPU
        utilization covers the time since the previous call (the first call: since boot).
        """
        return self._system.snapshot()

    def take_system_snapshot(self) -> dict[str, Any]:
        """Take a :meth:`get_system_metrics` reading now and keep it in the history."""
        snapshot = self._system.snapshot()
        self.system_history.append(snapshot)
        return snapshot

    def get_system_snapshots(self, time_range: TimeRange = None) -> list[dict[str, Any]]:
        """System snapshots kept (at most ``max_history``), oldest first.

        Args:
            time_range: the last N seconds, a ``timedelta`` or a ``(start, end)`` pair
                (see :data:`otel_agents._history.TimeRange`); everything kept by default.
        """
        return self.system_history.select(time_range)

    def get_profiling_summary(self, time_range: TimeRange = None) -> dict[str, Any]:
        """Statistics of recent profiles by profile name, and the latest system snapshot.

        Args:
            time_range: the last N seconds, a ``timedelta`` or a ``(start, end)`` pair
                (see :data:`otel_agents._history.TimeRange`); everything kept by default.

        Returns:
            ``{"profiles": {name: {"count", "errors", "min", "max", "mean", "sum", "p50",
            "p95", "p99"}}, "custom_metrics": {name: the same statistics of recorded
            values}, "system": latest snapshot or None, "system_snapshots": count}``,
            durations in seconds, both within ``time_range``.
        """
        by_name: dict[str, list[ProfileRecord]] = {}
        for record in self.history.select(time_range):
            by_name.setdefault(record.name, []).append(record)
        profiles: dict[str, dict[str, Any]] = {}
        for name, records in by_name.items():
            stats: dict[str, Any] = summarize(record.duration for record in records)
            stats["errors"] = sum(1 for record in records if record.error_type is not None)
            profiles[name] = stats
        snapshots = self.get_system_snapshots(time_range)
        return {
            "profiles": profiles,
            "custom_metrics": self._custom.summary(time_range),
            "system": snapshots[-1] if snapshots else None,
            "system_snapshots": len(snapshots),
        }

    def record_metric(
        self,
        name: str,
        value: float,
        tags: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> CustomMetricRecord:
        """Record a user-defined value (``tokens_used``, ``cache_hits``) with tags and context.

        Kept in the profiler's history with its tags (at most 8 scalar values;
        secret-looking keys dropped) and its context (redacted), summarized by
        :meth:`get_profiling_summary` and written by :meth:`export_profiles`. Recorded even
        when profiling is disabled: it is an explicit call, not instrumentation.

        Raises:
            InvalidValueError: an empty name, a non-finite value, more than 8 tags.
            InvalidTypeError: a value that is not a number, a tag that is not a scalar.
        """
        return self._custom.record(name, value, tags, context)

    def export_profiles(
        self, filepath: str | Path, time_range: TimeRange = None, *, encrypt: bool = False
    ) -> Path:
        """Write the profiling summary, profiles and system snapshots to ``filepath`` as JSON.

        Each profile is its name, end time, duration and error type (contexts stay on the
        spans). The file is replaced atomically; :class:`~otel_agents.ExportError` on failure.
        ``encrypt=True``: encrypted with ``OTEL_AGENTS_EXPORT_KEY``.
        """
        payload = {
            "summary": self.get_profiling_summary(time_range),
            "profiles": [record._asdict() for record in self.history.select(time_range)],
            "custom_metrics": [r._asdict() for r in self._custom.history.select(time_range)],
            "system_snapshots": self.get_system_snapshots(time_range),
        }
        return write_json_atomic(filepath, export_envelope("profiles", payload), encrypt=encrypt)

    # -- lifecycle -------------------------------------------------------------------------
    def _snapshot(self) -> None:
        if self._enabled:  # the next interval tries again; the host never notices
            self.take_system_snapshot()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the system snapshots. Safe to call twice."""
        self._snapshot_worker.stop(timeout)

    def __enter__(self) -> PerformanceProfiler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
