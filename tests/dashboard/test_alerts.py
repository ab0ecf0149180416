"""AlertManager: levels, de-duplication, acknowledgment, resolution, and alerts as telemetry."""

from __future__ import annotations

import logging

import pytest
from opentelemetry._logs import NoOpLoggerProvider, SeverityNumber

from otel_agents import semconv
from otel_agents._alert_record import Alert, AlertLevel
from otel_agents._alerts import AlertManager, UnknownAlertError
from otel_agents._errors import InvalidTypeError, InvalidValueError
from otel_agents.testing import TelemetryCapture
from tests.dashboard.conftest import FakeClock, LogCapture

LEVEL, SOURCE = semconv.ALERT_LEVEL, semconv.ALERT_SOURCE


def test_alert_levels_map_to_log_severities() -> None:
    assert [level.value for level in AlertLevel] == ["info", "warning", "error", "critical"]
    assert AlertLevel.INFO.severity is SeverityNumber.INFO
    assert AlertLevel.WARNING.severity is SeverityNumber.WARN
    assert AlertLevel.ERROR.severity is SeverityNumber.ERROR
    assert AlertLevel.CRITICAL.severity is SeverityNumber.FATAL


def test_a_raised_alert_is_active_with_its_fields(manager: AlertManager, clock: FakeClock) -> None:
    alert = manager.raise_alert("WARNING", "High CPU usage detected", "system_monitor", {"cpu": 93})
    assert isinstance(alert, Alert)
    assert alert.level is AlertLevel.WARNING
    assert (alert.message, alert.source, alert.context) == (
        "High CPU usage detected",
        "system_monitor",
        {"cpu": 93},
    )
    assert alert.created_at == alert.last_seen_at == clock.now
    assert alert.count == 1
    assert alert.active
    assert not alert.acknowledged
    assert alert.id == alert.alert_id
    assert manager.get_active_alerts() == [alert]


def test_raising_an_active_alert_again_counts_a_repeat(
    manager: AlertManager, clock: FakeClock, telemetry: TelemetryCapture
) -> None:
    first = manager.raise_alert(AlertLevel.ERROR, "disk full", "storage")
    clock.advance(5)
    again = manager.raise_alert(AlertLevel.ERROR, "disk full", "storage", {"free": 0})
    assert again is first
    assert (first.count, first.last_seen_at, first.context) == (2, clock.now, {"free": 0})
    assert len(manager.get_active_alerts()) == 1
    (point,) = telemetry.points(semconv.AGENT_ALERTS_RAISED.name)
    assert point.value == 1


def test_alert_gauge_counts_active_alerts_by_level_and_source(
    manager: AlertManager, telemetry: TelemetryCapture
) -> None:
    manager.raise_alert("warning", "cpu high", "system_monitor")
    manager.raise_alert("warning", "memory high", "system_monitor")
    critical = manager.raise_alert("critical", "gateway down", "api_gateway")
    metric = telemetry.metric(semconv.AGENT_ALERTS_ACTIVE.name)
    assert metric.unit == "{alert}"
    values = {(p.attributes[LEVEL], p.attributes[SOURCE]): p.value for p in metric.data.data_points}
    assert values == {("warning", "system_monitor"): 2, ("critical", "api_gateway"): 1}

    manager.resolve(critical.alert_id)
    points = telemetry.points(semconv.AGENT_ALERTS_ACTIVE.name, {LEVEL: "critical"})
    assert [(dict(p.attributes), p.value) for p in points] == [
        ({LEVEL: "critical", SOURCE: "api_gateway"}, 0)
    ]


def test_alerts_raised_counter_has_only_level_and_source_attributes(
    manager: AlertManager, telemetry: TelemetryCapture
) -> None:
    manager.raise_alert("error", "upstream user_service failed 5 times", "api_gateway")
    manager.raise_alert("error", "upstream orders failed", "api_gateway")
    metric = telemetry.metric(semconv.AGENT_ALERTS_RAISED.name)
    assert metric.unit == "{alert}"
    (point,) = metric.data.data_points
    assert dict(point.attributes) == {LEVEL: "error", SOURCE: "api_gateway"}
    assert point.value == 2


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("info", SeverityNumber.INFO),
        ("warning", SeverityNumber.WARN),
        ("error", SeverityNumber.ERROR),
        ("critical", SeverityNumber.FATAL),
    ],
)
def test_each_alert_is_a_log_record_with_severity_from_its_level(
    manager: AlertManager, logs: LogCapture, level: str, severity: SeverityNumber
) -> None:
    alert = manager.raise_alert(level, "something happened", "tests", {"token": "s3cret", "n": 3})
    (record,) = logs.records()
    log = record.log_record
    assert log.severity_number is severity
    assert log.severity_text == severity.name
    assert log.body == "something happened"
    assert log.event_name == semconv.ALERT_EVENT
    assert dict(log.attributes or {}) == {
        LEVEL: level,
        SOURCE: "tests",
        semconv.ALERT_ID: alert.alert_id,
        semconv.ALERT_COUNT: 1,
        semconv.ALERT_CONTEXT_PREFIX + "token": "[REDACTED]",
        semconv.ALERT_CONTEXT_PREFIX + "n": 3,
    }


def test_secrets_inside_lists_of_an_alert_context_are_redacted_everywhere(
    manager: AlertManager, logs: LogCapture
) -> None:
    alert = manager.raise_alert("warning", "retrying", "tests", {"calls": [{"token": "s3cret-7"}]})

    assert alert.context == {"calls": [{"token": "[REDACTED]"}]}
    (record,) = logs.records()
    assert "s3cret-7" not in repr(dict(record.log_record.attributes or {}))
    assert "s3cret-7" not in repr(manager.get_active_alerts())


def test_an_alert_raised_outside_any_span_links_its_record_to_a_span_of_its_own(
    manager: AlertManager, logs: LogCapture, telemetry: TelemetryCapture
) -> None:
    manager.raise_alert("error", "queue backed up", "rules")
    (record,) = logs.records()
    (span,) = telemetry.spans()
    assert span.name == semconv.ALERT_EVENT
    assert span.context is not None
    assert record.log_record.trace_id == span.context.trace_id != 0
    assert record.log_record.span_id == span.context.span_id


def test_an_alert_raised_inside_a_span_links_its_record_to_that_span(
    manager: AlertManager, logs: LogCapture, telemetry: TelemetryCapture
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("tests")
    with tracer.start_as_current_span("work") as work:
        manager.raise_alert("warning", "slow step", "rules")
    (record,) = logs.records()
    assert [s.name for s in telemetry.spans()] == ["work"]
    assert record.log_record.span_id == work.get_span_context().span_id


def test_resolving_an_alert_emits_an_info_record_and_keeps_it_in_history(
    manager: AlertManager, logs: LogCapture, clock: FakeClock
) -> None:
    alert = manager.raise_alert("critical", "hub unreachable", "agent_manager")
    clock.advance(30)
    assert manager.resolve(alert.alert_id) is alert
    assert (alert.active, alert.resolved_at, alert.resolved_by) == (False, clock.now, "user")
    assert manager.get_active_alerts() == []
    (resolved,) = manager.get_history()
    assert resolved.alert_id == alert.alert_id
    assert resolved.resolved_at == clock.now
    _raised, closed = logs.records()
    assert closed.log_record.event_name == semconv.ALERT_RESOLVED_EVENT
    assert closed.log_record.severity_number is SeverityNumber.INFO
    assert manager.resolve(alert.alert_id).resolved_at == clock.now  # twice changes nothing


def test_acknowledging_keeps_the_first_time(manager: AlertManager, clock: FakeClock) -> None:
    alert = manager.raise_alert("warning", "slow", "performance_monitor")
    clock.advance(2)
    manager.acknowledge(alert.alert_id)
    first = alert.acknowledged_at
    clock.advance(2)
    manager.acknowledge(alert.alert_id)
    assert alert.acknowledged
    assert alert.acknowledged_at == first == clock.now - 2
    assert alert.active


def test_history_is_bounded(clock: FakeClock, telemetry: TelemetryCapture) -> None:
    manager = AlertManager(max_history=3, clock=clock, meter_provider=telemetry.meter_provider)
    for index in range(5):
        manager.resolve(manager.raise_alert("info", f"note {index}", "tests").alert_id)
    assert [a.message for a in manager.get_history()] == ["note 2", "note 3", "note 4"]


def test_too_many_active_alerts_resolve_the_oldest_as_overflow(
    clock: FakeClock, telemetry: TelemetryCapture
) -> None:
    manager = AlertManager(max_active=2, clock=clock, meter_provider=telemetry.meter_provider)
    first = manager.raise_alert("info", "one", "tests")
    manager.raise_alert("info", "two", "tests")
    manager.raise_alert("info", "three", "tests")
    assert [a.message for a in manager.get_active_alerts()] == ["two", "three"]
    assert first.resolved_by == "overflow"


def test_an_unknown_level_is_refused_naming_the_choices(manager: AlertManager) -> None:
    with pytest.raises(InvalidValueError, match=r"level='severe'.*critical, error, info, warning"):
        manager.raise_alert("severe", "x", "tests")
    with pytest.raises(InvalidTypeError, match="level=3"):
        manager.raise_alert(3, "x", "tests")  # type: ignore[arg-type]
    assert manager.get_active_alerts() == []


@pytest.mark.parametrize(
    ("message", "source", "match"),
    [("", "tests", "message=''"), ("   ", "tests", "message='   '"), ("ok", "", "source=''")],
)
def test_an_empty_message_or_source_is_refused(
    manager: AlertManager, message: str, source: str, match: str
) -> None:
    manager.raise_alert("info", "kept", "tests")
    with pytest.raises(InvalidValueError, match=match):
        manager.raise_alert("info", message, source)
    assert [a.message for a in manager.get_active_alerts()] == ["kept"]


def test_a_context_that_is_not_a_mapping_is_refused(manager: AlertManager) -> None:
    with pytest.raises(InvalidTypeError, match=r"context=.*a mapping"):
        manager.raise_alert("info", "x", "tests", ["not", "a", "dict"])  # type: ignore[arg-type]


def test_acknowledging_an_unknown_alert_id_names_it_and_changes_nothing(
    manager: AlertManager,
) -> None:
    kept = manager.raise_alert("error", "kept", "tests")
    with pytest.raises(UnknownAlertError, match=r"alert_id='nope'.*get_active_alerts\(\)"):
        manager.acknowledge("nope")
    with pytest.raises(UnknownAlertError, match="alert_id='nope'"):
        manager.resolve("nope")
    assert isinstance(UnknownAlertError("x"), ValueError)
    assert manager.get_active_alerts() == [kept]
    assert not kept.acknowledged


def test_a_listener_that_raises_is_isolated_and_logged_once(
    manager: AlertManager, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def broken(alert: Alert) -> None:
        raise RuntimeError("listener bug")

    manager.add_listener(broken)
    manager.add_listener(lambda alert: seen.append(alert.message))
    with caplog.at_level(logging.ERROR, logger="otel_agents.alerts"):
        manager.raise_alert("info", "one", "tests")
        manager.raise_alert("info", "two", "tests")
    assert seen == ["one", "two"]
    assert len(manager.get_active_alerts()) == 2
    logged = [r for r in caplog.records if "listener" in r.getMessage()]
    assert len(logged) == 1


def test_with_logs_off_an_alert_is_an_event_on_the_current_span(
    telemetry: TelemetryCapture, clock: FakeClock
) -> None:
    manager = AlertManager(
        clock=clock,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        logger_provider=NoOpLoggerProvider(),
    )
    tracer = telemetry.tracer_provider.get_tracer("tests")
    with tracer.start_as_current_span("work"):
        alert = manager.raise_alert("error", "step failed", "tests")
    (event,) = telemetry.span("work").events
    assert event.name == semconv.ALERT_EVENT
    assert event.attributes is not None
    assert event.attributes[semconv.ALERT_MESSAGE] == "step failed"
    assert event.attributes[semconv.ALERT_ID] == alert.alert_id
    assert event.attributes[LEVEL] == "error"


def test_with_logs_off_and_no_span_an_alert_gets_a_span_of_its_own(
    telemetry: TelemetryCapture, clock: FakeClock
) -> None:
    manager = AlertManager(
        clock=clock, tracer_provider=telemetry.tracer_provider, logger_provider=NoOpLoggerProvider()
    )
    manager.raise_alert("warning", "lonely", "tests")
    span = telemetry.span(semconv.ALERT_EVENT)
    assert [event.name for event in span.events] == [semconv.ALERT_EVENT]
    assert span.parent is None
