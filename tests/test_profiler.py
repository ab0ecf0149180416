from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_agents import semconv
from otel_agents._errors import ConfigurationError, InvalidTypeError
from otel_agents._profiler import PerformanceProfiler, ProfileRecord
from otel_agents.testing import TelemetryCapture

DURATION = semconv.AGENT_PROFILE_DURATION.name


class AgentFailure(Exception):
    """A failure raised by profiled code in these tests."""


@pytest.fixture
def profiler(telemetry: TelemetryCapture) -> Iterator[PerformanceProfiler]:
    with PerformanceProfiler(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    ) as profiler:
        yield profiler


def _disabled(telemetry: TelemetryCapture) -> PerformanceProfiler:
    return PerformanceProfiler(
        {"profiling_enabled": False, "snapshot_interval": 0},
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )


def plan(steps: int) -> list[int]:
    return list(range(steps))


def test_decorated_function_is_an_internal_span_named_by_the_profile_name(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    profiled = profiler.profile_function("planning")(plan)
    assert profiled(3) == [0, 1, 2]
    span = telemetry.span("planning")
    assert span.kind is SpanKind.INTERNAL
    assert dict(span.attributes or {}) == {
        semconv.AGENT_PROFILE_NAME: "planning",
        semconv.CODE_FUNCTION_NAME: f"{__name__}.plan",
    }
    assert span.status.status_code is StatusCode.UNSET
    assert span.events == ()


def test_decorator_names_the_profile_after_the_function_qualname_by_default(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    class Agent:
        @profiler.profile_function()
        def act(self) -> str:
            return "done"

    assert Agent().act() == "done"
    qualname = Agent.act.__qualname__
    span = telemetry.span(qualname)
    assert span.attributes is not None
    assert span.attributes[semconv.AGENT_PROFILE_NAME] == qualname


def test_decorator_works_without_parentheses_and_keeps_the_function_metadata(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    @profiler.profile_function
    def summarize_notes() -> str:
        """Summarize."""
        return "notes"

    assert summarize_notes() == "notes"
    assert summarize_notes.__name__ == "summarize_notes"
    assert summarize_notes.__doc__ == "Summarize."
    assert len(telemetry.spans(summarize_notes.__qualname__)) == 1


def test_each_call_records_one_duration_in_seconds_within_its_span(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    profiled = profiler.profile_function("planning")(plan)
    profiled(1)
    profiled(2)
    metric = telemetry.metric(DURATION)
    assert metric.unit == "s"
    (point,) = metric.data.data_points
    assert dict(point.attributes) == {semconv.AGENT_PROFILE_NAME: "planning"}
    assert point.count == 2
    assert tuple(point.explicit_bounds) == semconv.DURATION_BUCKETS
    spans = telemetry.spans("planning")
    span_seconds = sum((s.end_time or 0) - (s.start_time or 0) for s in spans) / 1e9
    assert 0 < point.sum <= span_seconds


def test_context_manager_puts_primitive_context_values_on_the_span(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    context = {"batch_size": 1000, "operation": "embed", "dry_run": False, "items": [1, 2]}
    with profiler.profile("data_processing", context):
        pass
    span = telemetry.span("data_processing")
    assert span.kind is SpanKind.INTERNAL
    assert dict(span.attributes or {}) == {
        semconv.AGENT_PROFILE_NAME: "data_processing",
        semconv.AGENT_CONTEXT_PREFIX + "batch_size": 1000,
        semconv.AGENT_CONTEXT_PREFIX + "dry_run": False,
        semconv.AGENT_OPERATION: "embed",
    }
    (point,) = telemetry.points(DURATION)
    assert dict(point.attributes) == {semconv.AGENT_PROFILE_NAME: "data_processing"}


def test_context_values_under_credential_like_keys_never_reach_the_span(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    context = {"api_key": "sk-123", "Auth_Token": "t0k", "password": "hunter2", "step": 2}
    with profiler.profile("call_tool", context):
        pass
    span = telemetry.span("call_tool")
    assert dict(span.attributes or {}) == {
        semconv.AGENT_PROFILE_NAME: "call_tool",
        semconv.AGENT_CONTEXT_PREFIX + "step": 2,
    }


def test_url_credentials_in_context_values_never_reach_the_span(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    """A value is as secret as a key (the tracker and every store mask it): a DSN or a
    callback URL under an innocent key reaches the span without its password or token."""
    context = {
        "dsn": "retrying postgres://app:S3CRET@db/prod",
        "operation": "https://h/cb?token=S3CRET",
    }
    with profiler.profile("query", context):
        pass
    attributes = dict(telemetry.span("query").attributes or {})
    assert "S3CRET" not in repr(attributes)
    assert attributes == {
        semconv.AGENT_PROFILE_NAME: "query",
        semconv.AGENT_CONTEXT_PREFIX + "dsn": "retrying postgres://REDACTED:REDACTED@db/prod",
        semconv.AGENT_OPERATION: "https://h/cb?token=REDACTED",
    }


def test_nested_profiles_nest_in_one_trace(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    inner = profiler.profile_function("inner")(plan)
    with profiler.profile("outer"):
        inner(1)
    outer_span, inner_span = telemetry.span("outer"), telemetry.span("inner")
    assert inner_span.parent is not None
    assert inner_span.parent.span_id == outer_span.context.span_id
    assert inner_span.context.trace_id == outer_span.context.trace_id
    assert outer_span.parent is None


def test_async_functions_are_profiled_around_the_await(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    @profiler.profile_function("fetch")
    async def fetch(value: int) -> int:
        await asyncio.sleep(0)
        with profiler.profile("parse"):
            return value * 2

    assert asyncio.run(fetch(21)) == 42
    fetch_span, parse_span = telemetry.span("fetch"), telemetry.span("parse")
    assert parse_span.parent is not None
    assert parse_span.parent.span_id == fetch_span.context.span_id
    assert fetch_span.attributes is not None
    assert fetch_span.attributes[semconv.CODE_FUNCTION_NAME].endswith(".fetch")
    assert telemetry.points(DURATION, {semconv.AGENT_PROFILE_NAME: "fetch"})[0].count == 1


def test_async_with_profiles_the_block(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    async def work() -> None:
        async with profiler.profile("gather", {"sources": 3}):
            await asyncio.sleep(0)

    asyncio.run(work())
    span = telemetry.span("gather")
    assert span.attributes is not None
    assert span.attributes[semconv.AGENT_CONTEXT_PREFIX + "sources"] == 3
    assert len(profiler.history) == 1


def test_an_exception_is_recorded_on_the_span_and_reraised_unchanged(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    failure = AgentFailure("model timed out")

    @profiler.profile_function("call_model")
    def call_model() -> None:
        raise failure

    with pytest.raises(AgentFailure) as caught:
        call_model()
    assert caught.value is failure
    span = telemetry.span("call_model")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "AgentFailure"  # never the message
    assert span.attributes is not None
    assert span.attributes[semconv.ERROR_TYPE] == "AgentFailure"
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.message"] == "model timed out"
    (point,) = telemetry.points(DURATION)
    assert dict(point.attributes) == {
        semconv.AGENT_PROFILE_NAME: "call_model",
        semconv.ERROR_TYPE: "AgentFailure",
    }


def test_an_exception_in_an_async_with_block_is_recorded_and_reraised(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    async def work() -> None:
        async with profiler.profile("gather"):
            raise AgentFailure("no sources")

    with pytest.raises(AgentFailure, match="no sources"):
        asyncio.run(work())
    span = telemetry.span("gather")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes[semconv.ERROR_TYPE] == "AgentFailure"


def test_disabled_profiling_records_nothing_and_still_runs_the_code(
    telemetry: TelemetryCapture,
) -> None:
    profiler = _disabled(telemetry)
    profiled = profiler.profile_function("planning")(plan)

    @profiler.profile_function("fetch")
    async def fetch() -> str:
        async with profiler.profile("gather"):
            return "fetched"

    assert profiled(2) == [0, 1]
    assert asyncio.run(fetch()) == "fetched"
    with profiler.profile("block", {"batch_size": 1}) as block:
        ran = True
    assert ran
    assert block is not None
    assert telemetry.spans() == []
    assert DURATION not in telemetry.metrics()
    assert len(profiler.history) == 0


def test_profiling_enabled_is_checked_at_call_time(
    telemetry: TelemetryCapture, profiler: PerformanceProfiler
) -> None:
    profiled = profiler.profile_function("planning")(plan)
    profiler.profiling_enabled = False
    profiled(1)
    assert telemetry.spans() == []
    profiler.profiling_enabled = True
    profiled(1)
    assert len(telemetry.spans("planning")) == 1
    assert profiler.profiling_enabled is True


def test_profiling_enabled_rejects_a_non_boolean(profiler: PerformanceProfiler) -> None:
    with pytest.raises(ConfigurationError, match="profiling_enabled"):
        profiler.profiling_enabled = "no"  # type: ignore[assignment]


def test_history_keeps_only_the_newest_max_history_profiles(
    telemetry: TelemetryCapture,
) -> None:
    profiler = PerformanceProfiler(
        {"max_history": 3, "snapshot_interval": 0}, tracer_provider=telemetry.tracer_provider
    )
    for index in range(5):
        with profiler.profile(f"step-{index}"):
            pass
    assert [record.name for record in profiler.history] == ["step-2", "step-3", "step-4"]


def test_summary_gives_count_errors_and_duration_statistics_per_profile(
    profiler: PerformanceProfiler,
) -> None:
    now = time.time()
    for duration in (0.1, 0.2, 0.3, 0.4):
        profiler.history.append(ProfileRecord("plan", now, duration, None))
    profiler.history.append(ProfileRecord("act", now, 1.0, "AgentFailure"))
    summary = profiler.get_profiling_summary()["profiles"]
    assert set(summary) == {"plan", "act"}
    plan_stats = summary["plan"]
    assert plan_stats["count"] == 4
    assert plan_stats["errors"] == 0
    assert plan_stats["min"] == 0.1
    assert plan_stats["max"] == 0.4
    assert plan_stats["mean"] == pytest.approx(0.25)
    assert plan_stats["p50"] == pytest.approx(0.25)
    assert plan_stats["p95"] == pytest.approx(0.385)
    assert plan_stats["p99"] == pytest.approx(0.397)
    assert summary["act"]["count"] == 1
    assert summary["act"]["errors"] == 1


def test_summary_counts_real_calls_and_failures(profiler: PerformanceProfiler) -> None:
    @profiler.profile_function("flaky")
    def flaky(fail: bool) -> None:
        if fail:
            raise AgentFailure("flaked")

    flaky(False)
    with pytest.raises(AgentFailure):
        flaky(True)
    stats = profiler.get_profiling_summary()["profiles"]["flaky"]
    assert (stats["count"], stats["errors"]) == (2, 1)
    assert 0 <= stats["min"] <= stats["max"]


def test_summary_time_range_leaves_out_older_profiles(profiler: PerformanceProfiler) -> None:
    now = time.time()
    profiler.history.append(ProfileRecord("plan", now - 3600, 9.0, None))
    profiler.history.append(ProfileRecord("plan", now, 1.0, None))
    summary = profiler.get_profiling_summary(time_range=60)["profiles"]
    assert summary["plan"]["count"] == 1
    assert summary["plan"]["max"] == 1.0


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"profiling_enable": True}, "profiling_enable"),
        ({"profiling_enabled": "yes"}, "profiling_enabled"),
        ({"snapshot_interval": -1}, "snapshot_interval"),
        ({"snapshot_interval": "30"}, "snapshot_interval"),
        ({"snapshot_interval": float("nan")}, "snapshot_interval"),
        ({"max_history": 0}, "max_history"),
        ({"max_history": 2.5}, "max_history"),
    ],
)
def test_bad_config_raises_configuration_error_naming_the_key(
    config: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"'{key}'"):
        PerformanceProfiler(config)


def test_config_values_are_kept(telemetry: TelemetryCapture) -> None:
    profiler = PerformanceProfiler(
        {"profiling_enabled": True, "snapshot_interval": 5, "max_history": 10},
        tracer_provider=telemetry.tracer_provider,
    )
    profiler.stop()
    assert (profiler.snapshot_interval, profiler.max_history) == (5, 10)
    assert profiler.history.max_items == 10


def test_a_profile_name_that_is_not_a_string_is_rejected(profiler: PerformanceProfiler) -> None:
    with pytest.raises(InvalidTypeError, match="profile_name"):
        profiler.profile(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="profile_name"):
        profiler.profile_function(42)  # type: ignore[call-overload]


def test_get_system_metrics_reports_every_section_as_json(profiler: PerformanceProfiler) -> None:
    readings = profiler.get_system_metrics()
    assert set(readings) == {"timestamp", "cpu", "memory", "disk", "network", "process"}
    assert json.loads(json.dumps(readings)) == readings
    assert readings["process"]["thread_count"] >= 1
    assert sum(readings["cpu"]["utilization"].values()) == pytest.approx(1.0)


def test_seed_profiler_example_runs_unchanged() -> None:
    """Section 2 of the seed document, verbatim bar the import line."""
    from otel_agents._profiler import PerformanceProfiler

    # Initialize profiler
    profiler = PerformanceProfiler()

    # Function profiling decorator
    @profiler.profile_function("critical_function")
    def critical_function():
        # Function implementation
        pass

    # Context-based profiling
    with profiler.profile("data_processing", {"batch_size": 1000}):
        # Code to profile
        pass

    # Get system metrics
    system_metrics = profiler.get_system_metrics()

    critical_function()
    profiler.stop()  # the snapshot thread the seed's default snapshot_interval started
    assert set(system_metrics) >= {"cpu", "memory", "disk", "network", "process"}
    profiles = profiler.get_profiling_summary()["profiles"]
    assert set(profiles) == {"critical_function", "data_processing"}


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def _snapshot_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "otel-agents-profiler-snapshots"]


def test_snapshots_are_taken_every_snapshot_interval_into_a_bounded_history(
    telemetry: TelemetryCapture,
) -> None:
    with PerformanceProfiler(
        {"snapshot_interval": 0.01, "max_history": 2}, tracer_provider=telemetry.tracer_provider
    ) as profiler:
        assert _wait_for(lambda: len(profiler.get_system_snapshots()) == 2)
        first = profiler.get_system_snapshots()[0]["timestamp"]
        # A later snapshot pushes the oldest out: the history stays at max_history.
        assert _wait_for(lambda: profiler.get_system_snapshots()[0]["timestamp"] > first)
    snapshots = profiler.get_system_snapshots()
    assert len(snapshots) == 2
    assert snapshots[0]["timestamp"] <= snapshots[1]["timestamp"]
    assert set(snapshots[-1]) == {"timestamp", "cpu", "memory", "disk", "network", "process"}


def test_the_summary_holds_the_latest_system_snapshot(
    telemetry: TelemetryCapture,
) -> None:
    with PerformanceProfiler(
        {"snapshot_interval": 0.01}, tracer_provider=telemetry.tracer_provider
    ) as profiler:
        assert _wait_for(lambda: len(profiler.get_system_snapshots()) >= 1)
    summary = profiler.get_profiling_summary()
    assert summary["system"] == profiler.get_system_snapshots()[-1]
    assert summary["system_snapshots"] == len(profiler.get_system_snapshots())


def test_system_snapshots_time_range_leaves_out_older_snapshots(
    profiler: PerformanceProfiler,
) -> None:
    old = {**profiler.get_system_metrics(), "timestamp": time.time() - 3600}
    profiler.system_history.append(old)
    newest = profiler.take_system_snapshot()
    assert profiler.get_system_snapshots(time_range=60) == [newest]
    assert profiler.get_profiling_summary(time_range=60)["system"] == newest


def test_stop_ends_the_snapshot_thread_and_is_safe_twice(telemetry: TelemetryCapture) -> None:
    before = len(_snapshot_threads())
    profiler = PerformanceProfiler(
        {"snapshot_interval": 0.01}, tracer_provider=telemetry.tracer_provider
    )
    assert len(_snapshot_threads()) == before + 1
    profiler.stop()
    profiler.stop()
    assert len(_snapshot_threads()) == before


def test_snapshot_interval_zero_starts_no_thread(telemetry: TelemetryCapture) -> None:
    before = len(_snapshot_threads())
    profiler = PerformanceProfiler(
        {"snapshot_interval": 0}, tracer_provider=telemetry.tracer_provider
    )
    assert len(_snapshot_threads()) == before
    assert profiler.get_system_snapshots() == []
    profiler.stop()


def test_no_snapshots_are_taken_while_profiling_is_disabled(telemetry: TelemetryCapture) -> None:
    with PerformanceProfiler(
        {"snapshot_interval": 0.005, "profiling_enabled": False},
        tracer_provider=telemetry.tracer_provider,
    ) as profiler:
        time.sleep(0.05)
    assert profiler.get_system_snapshots() == []


def test_a_seed_style_shared_config_with_other_components_keys_is_accepted(
    telemetry: TelemetryCapture,
) -> None:
    shared = {"max_metrics_history": 100, "snapshot_interval": 0, "max_history": 7}
    with PerformanceProfiler(shared, tracer_provider=telemetry.tracer_provider) as profiler:
        assert profiler.max_history == 7
