"""Threshold rules: hysteresis, minimum duration, de-duplication, failsafe callbacks."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from otel_agents import semconv
from otel_agents._alert_record import Alert, AlertLevel
from otel_agents._alert_rules import (
    DEFAULT_RULES,
    RuleEngine,
    RuleMetric,
    ThresholdRule,
    rules_from_config,
)
from otel_agents._alerts import AlertManager
from otel_agents._errors import InvalidTypeError, InvalidValueError
from otel_agents._tracker import PerformanceTracker
from otel_agents.testing import TelemetryCapture
from tests.dashboard.conftest import FakeClock, LogCapture

CPU = RuleMetric.CPU_USAGE.value


def engine_with(manager: AlertManager, **fields: object) -> RuleEngine:
    defaults: dict[str, object] = {
        "name": "high_cpu",
        "metric": "cpu_usage",
        "raise_at": 90.0,
        "clear_at": 70.0,
    }
    return RuleEngine(manager, [ThresholdRule(**{**defaults, **fields})])  # type: ignore[arg-type]


def test_a_rule_raises_at_the_threshold_with_the_agent_and_context(
    manager: AlertManager,
) -> None:
    engine = engine_with(manager, level="critical")
    engine.evaluate({CPU: {"planner": 89.9}}, agents=["planner"])
    assert manager.get_active_alerts() == []
    engine.evaluate({CPU: {"planner": 95.0}}, agents=["planner"])
    (alert,) = manager.get_active_alerts()
    assert alert.level is AlertLevel.CRITICAL
    assert (alert.source, alert.rule, alert.agent_id) == (
        "performance_monitor",
        "high_cpu",
        "planner",
    )
    assert alert.message == "high_cpu: cpu_usage of planner is 95 (threshold 90)"
    assert alert.context == {
        "metric": "cpu_usage",
        "subject": "planner",
        "value": 95.0,
        "threshold": 90.0,
        "clear_at": 70.0,
    }


def test_hysteresis_keeps_one_alert_while_the_value_stays_above_clear_at(
    manager: AlertManager, clock: FakeClock, telemetry: TelemetryCapture, logs: LogCapture
) -> None:
    engine = engine_with(manager)
    for step in range(200):  # flapping across the raise threshold, never below clear_at
        engine.evaluate({CPU: {"planner": 95.0 if step % 2 == 0 else 80.0}})
        clock.advance(1)
    (alert,) = manager.get_active_alerts()
    assert alert.count == 1
    assert alert.context["last_value"] == 80.0
    (raised,) = telemetry.points(semconv.AGENT_ALERTS_RAISED.name)
    assert raised.value == 1
    assert len(logs.records()) == 1


def test_the_alert_clears_only_below_clear_at(manager: AlertManager, clock: FakeClock) -> None:
    engine = engine_with(manager)
    engine.evaluate({CPU: {"planner": 95.0}})
    engine.evaluate({CPU: {"planner": 70.0}})
    (alert,) = manager.get_active_alerts()
    clock.advance(1)
    engine.evaluate({CPU: {"planner": 69.9}})
    assert manager.get_active_alerts() == []
    assert (alert.resolved_by, alert.resolved_at) == ("rule", clock.now)


def test_a_value_flapping_across_both_thresholds_raises_one_alert_with_a_count(
    manager: AlertManager, clock: FakeClock, telemetry: TelemetryCapture, logs: LogCapture
) -> None:
    engine = engine_with(manager)
    for _ in range(100):
        engine.evaluate({CPU: {"planner": 99.0}})
        clock.advance(1)
        engine.evaluate({CPU: {"planner": 10.0}})
        clock.advance(1)
    assert manager.get_active_alerts() == []
    alerts = {a.alert_id: a for a in manager.get_history()}
    assert len(alerts) == 1
    (alert,) = alerts.values()
    assert alert.count == 100
    (raised,) = telemetry.points(semconv.AGENT_ALERTS_RAISED.name)
    assert raised.value == 1
    assert [r.log_record.event_name for r in logs.records()][:1] == [semconv.ALERT_EVENT]


def test_a_reopened_alert_reaches_listeners_and_the_log_as_active_again(
    manager: AlertManager, clock: FakeClock, telemetry: TelemetryCapture, logs: LogCapture
) -> None:
    heard: list[tuple[bool, int]] = []
    manager.add_listener(lambda alert: heard.append((alert.active, alert.count)))
    engine = engine_with(manager)
    for cpu in (95.0, 50.0, 95.0, 50.0, 95.0):  # flapping within the reopen window
        engine.evaluate({CPU: {"planner": cpu}})
        clock.advance(10)

    (alert,) = manager.get_active_alerts()
    assert heard == [(True, 1), (False, 1), (True, 2), (False, 2), (True, 3)]
    events = [(r.log_record.event_name, r.log_record.attributes) for r in logs.records()]
    assert [(name, attrs[semconv.ALERT_COUNT]) for name, attrs in events] == [  # type: ignore[index]
        (semconv.ALERT_EVENT, 1),
        (semconv.ALERT_RESOLVED_EVENT, 1),
        (semconv.ALERT_EVENT, 2),
        (semconv.ALERT_RESOLVED_EVENT, 2),
        (semconv.ALERT_EVENT, 3),
    ]
    assert {attrs[semconv.ALERT_ID] for _, attrs in events} == {alert.alert_id}  # type: ignore[index]
    (raised,) = telemetry.points(semconv.AGENT_ALERTS_RAISED.name)
    assert raised.value == 1  # a reopen is the same alert, not another one raised


def test_after_the_reopen_window_a_returning_condition_is_a_new_alert(
    telemetry: TelemetryCapture, clock: FakeClock
) -> None:
    manager = AlertManager(reopen_window=60, clock=clock, meter_provider=telemetry.meter_provider)
    engine = engine_with(manager)
    engine.evaluate({CPU: {"planner": 99.0}})
    engine.evaluate({CPU: {"planner": 10.0}})
    clock.advance(61)
    engine.evaluate({CPU: {"planner": 99.0}})
    (second,) = manager.get_active_alerts()
    assert second.count == 1
    (raised,) = telemetry.points(semconv.AGENT_ALERTS_RAISED.name)
    assert raised.value == 2


def test_a_rule_waits_for_its_minimum_duration(manager: AlertManager, clock: FakeClock) -> None:
    engine = engine_with(manager, for_seconds=10)
    engine.evaluate({CPU: {"planner": 95.0}})
    clock.advance(9.9)
    engine.evaluate({CPU: {"planner": 95.0}})
    assert manager.get_active_alerts() == []
    clock.advance(0.1)
    engine.evaluate({CPU: {"planner": 95.0}})
    (alert,) = manager.get_active_alerts()
    assert alert.created_at == clock.now


def test_a_dip_below_the_threshold_restarts_the_minimum_duration(
    manager: AlertManager, clock: FakeClock
) -> None:
    engine = engine_with(manager, for_seconds=10)
    engine.evaluate({CPU: {"planner": 95.0}})
    clock.advance(8)
    engine.evaluate({CPU: {"planner": 85.0}})  # between clear_at and raise_at: not breached
    clock.advance(1)
    engine.evaluate({CPU: {"planner": 95.0}})
    clock.advance(9)
    engine.evaluate({CPU: {"planner": 95.0}})
    assert manager.get_active_alerts() == []
    clock.advance(1)
    engine.evaluate({CPU: {"planner": 95.0}})
    assert len(manager.get_active_alerts()) == 1


def test_each_subject_gets_its_own_alert(manager: AlertManager) -> None:
    engine = engine_with(manager)
    engine.evaluate({CPU: {"planner": 95.0, "researcher": 91.0, "monitor": 10.0}})
    assert sorted(a.context["subject"] for a in manager.get_active_alerts()) == [
        "planner",
        "researcher",
    ]


def test_a_subject_without_a_reading_counts_as_cleared(manager: AlertManager) -> None:
    engine = engine_with(manager)
    engine.evaluate({CPU: {"planner": 95.0}})
    engine.evaluate({})
    assert manager.get_active_alerts() == []


def test_lower_is_worse_when_raise_at_is_below_clear_at(manager: AlertManager) -> None:
    engine = engine_with(manager, metric="upstream_unhealthy", raise_at=0.0, clear_at=0.5)
    engine.evaluate({"upstream_unhealthy": {"users": 1.0}})
    assert manager.get_active_alerts() == []
    engine.evaluate({"upstream_unhealthy": {"users": 0.0}})
    assert len(manager.get_active_alerts()) == 1
    engine.evaluate({"upstream_unhealthy": {"users": 0.4}})
    assert len(manager.get_active_alerts()) == 1
    engine.evaluate({"upstream_unhealthy": {"users": 0.6}})
    assert manager.get_active_alerts() == []


def test_a_user_resolved_rule_alert_stays_resolved_until_the_condition_clears(
    manager: AlertManager,
) -> None:
    engine = engine_with(manager)
    engine.evaluate({CPU: {"planner": 95.0}})
    (alert,) = manager.get_active_alerts()
    manager.resolve(alert.alert_id)
    engine.evaluate({CPU: {"planner": 96.0}})
    assert manager.get_active_alerts() == []
    engine.evaluate({CPU: {"planner": 50.0}})
    engine.evaluate({CPU: {"planner": 97.0}})
    (again,) = manager.get_active_alerts()
    assert again.alert_id != alert.alert_id


def test_rule_callbacks_are_called_on_raise_and_clear(manager: AlertManager) -> None:
    calls: list[tuple[str, str]] = []
    engine = engine_with(
        manager,
        on_alert=lambda alert: calls.append(("alert", alert.rule or "")),
        on_clear=lambda alert: calls.append(("clear", alert.rule or "")),
    )
    engine.evaluate({CPU: {"planner": 95.0}})
    engine.evaluate({CPU: {"planner": 96.0}})
    engine.evaluate({CPU: {"planner": 5.0}})
    assert calls == [("alert", "high_cpu"), ("clear", "high_cpu")]


def test_a_raising_rule_callback_is_isolated_and_logged_once(
    manager: AlertManager, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(alert: Alert) -> None:
        raise RuntimeError("callback bug")

    engine = RuleEngine(
        manager,
        [
            ThresholdRule("broken", "cpu_usage", 90.0, 70.0, on_alert=broken, on_clear=broken),
            ThresholdRule("fine", "cpu_usage", 90.0, 70.0, level="error"),
        ],
    )
    with caplog.at_level(logging.ERROR, logger="otel_agents.alerts"):
        for _ in range(5):
            engine.evaluate({CPU: {"a": 95.0, "b": 95.0}})
            engine.evaluate({CPU: {"a": 5.0, "b": 5.0}})
    assert sorted({(a.rule, a.context["subject"]) for a in manager.get_history()}) == [
        ("broken", "a"),
        ("broken", "b"),
        ("fine", "a"),
        ("fine", "b"),
    ]
    failures = [r for r in caplog.records if "callback" in r.getMessage()]
    assert len(failures) == 1
    assert "rule 'broken' on_alert callback" in failures[0].getMessage()


def test_a_rule_on_an_unknown_metric_is_refused_naming_the_choices() -> None:
    with pytest.raises(InvalidValueError, match=r"metric='gpu_usage'.*valid choices: .*cpu_usage"):
        ThresholdRule("gpu", "gpu_usage", 90.0)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"name": ""}, "name=''"),
        ({"level": "severe"}, "level='severe'"),
        ({"raise_at": float("nan")}, "raise_at=nan"),
        ({"clear_at": "70"}, "clear_at='70'"),
        ({"for_seconds": -1}, "for_seconds=-1"),
        ({"message": "{nope}"}, "message='{nope}'"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(fields: dict[str, object], match: str) -> None:
    base: dict[str, object] = {"name": "r", "metric": "cpu_usage", "raise_at": 90.0}
    with pytest.raises(InvalidValueError, match=match):
        ThresholdRule(**{**base, **fields})  # type: ignore[arg-type]


def test_rules_come_from_config_dicts_and_unknown_fields_are_refused() -> None:
    (rule,) = rules_from_config(
        [{"name": "slow", "metric": "response_time_p95", "raise_at": 1.5, "level": "error"}]
    )
    assert rule == ThresholdRule("slow", RuleMetric.RESPONSE_TIME_P95, 1.5, 1.5, AlertLevel.ERROR)
    with pytest.raises(InvalidValueError, match="threshold"):
        rules_from_config([{"name": "x", "metric": "cpu_usage", "threshold": 1}])
    with pytest.raises(InvalidTypeError, match="alert_rules"):
        rules_from_config({"name": "x"})  # type: ignore[dict-item]


def test_a_duplicate_rule_name_is_refused(manager: AlertManager) -> None:
    engine = RuleEngine(manager, DEFAULT_RULES)
    with pytest.raises(InvalidValueError, match=r"rule\.name='high_cpu'"):
        engine.add_rule({"name": "high_cpu", "metric": "cpu_usage", "raise_at": 1})
    assert [r.name for r in engine.rules] == [r.name for r in DEFAULT_RULES]


def test_default_rules_cover_every_rule_metric_but_agent_memory() -> None:
    watched = {rule.metric for rule in DEFAULT_RULES}
    assert set(RuleMetric) - watched == {RuleMetric.MEMORY_USAGE}
    assert all(rule.higher_is_worse for rule in DEFAULT_RULES)


@pytest.mark.parametrize(
    ("source", "error"),
    [("", InvalidValueError), ("  ", InvalidValueError), (5, InvalidTypeError)],
)
def test_a_rule_with_a_source_no_alert_can_have_is_refused_when_made(
    source: object, error: type[Exception]
) -> None:
    """An empty source was accepted, then each refresh raised once the rule breached."""
    with pytest.raises(error, match=r"source=.*a non-empty component name"):
        ThresholdRule("r", "cpu_usage", 90.0, source=source)  # type: ignore[arg-type]


def test_a_dashboard_rule_with_an_empty_source_fails_at_construction_not_at_each_refresh(
    make_dashboard: Any, tracker: PerformanceTracker
) -> None:
    """Before: the config was taken, and once CPU crossed 50 % every get_dashboard_data()
    raised, and the rules after it and the health score were never computed again."""
    entry = {"name": "x", "metric": "cpu_usage", "raise_at": 50.0, "source": " "}
    with pytest.raises(InvalidValueError, match=r"source=' '"):
        make_dashboard(tracker, config={"alert_rules": [entry]})


def test_a_config_rule_missing_a_required_field_is_refused_naming_it(
    make_dashboard: Any,
) -> None:
    """It raised a bare TypeError ("__init__() missing 1 required positional argument")."""
    entry = {"name": "slow", "metric": "response_time_p95"}
    with pytest.raises(InvalidValueError, match=r"alert_rules\[\]=.*'slow'.*missing raise_at"):
        make_dashboard(config={"alert_rules": [entry]})
    with pytest.raises(InvalidValueError, match=r"missing metric, raise_at; required: name,"):
        rules_from_config([{"name": "x"}])


def test_a_rule_that_removes_itself_when_it_clears_does_not_break_the_round(
    manager: AlertManager,
) -> None:
    """A one-shot rule (on_clear removes it) raised KeyError out of evaluate(): the refresh
    failed and the rules after it were not run that round."""
    engine = RuleEngine(manager)
    engine.add_rule(
        ThresholdRule("once", CPU, 90.0, 70.0, on_clear=lambda _: engine.remove_rule("once"))
    )
    engine.add_rule(ThresholdRule("after", CPU, 60.0, 50.0))
    engine.evaluate({CPU: {"planner": 95.0}})
    assert sorted(str(a.rule) for a in manager.get_active_alerts()) == ["after", "once"]

    engine.evaluate({CPU: {"planner": 10.0, "coder": 65.0}})

    assert [r.name for r in engine.rules] == ["after"]
    assert [(a.rule, a.agent_id or a.context["subject"]) for a in manager.get_active_alerts()] == [
        ("after", "coder")
    ]


def test_a_rule_removed_during_a_round_raises_nothing_after_its_removal(
    manager: AlertManager,
) -> None:
    """The round ran every rule it started with: a rule removed by an earlier rule's
    callback still raised an alert after remove_rule() had returned."""
    engine = RuleEngine(manager)
    engine.add_rule(
        ThresholdRule("first", CPU, 90.0, on_alert=lambda _: engine.remove_rule("second"))
    )
    engine.add_rule(ThresholdRule("second", CPU, 90.0))
    engine.evaluate({CPU: {"planner": 95.0}})
    assert [a.rule for a in manager.get_active_alerts()] == ["first"]
    assert [r.name for r in engine.rules] == ["first"]


def test_a_rule_removed_from_another_thread_waits_for_the_round_in_progress(
    manager: AlertManager,
) -> None:
    """remove_rule() from another thread while a round was inside a listener swapped the
    states under it: the round then failed with KeyError. Now removal waits for the round."""
    engine = RuleEngine(manager, [ThresholdRule("once", CPU, 90.0, 70.0)])
    engine.evaluate({CPU: {"planner": 95.0}})
    entered, release = threading.Event(), threading.Event()

    def listener(alert: Alert) -> None:
        if not alert.active:  # the round is resolving the alert: hold it there
            entered.set()
            release.wait(10)

    manager.add_listener(listener)
    failures: list[BaseException] = []

    def round_() -> None:
        try:
            engine.evaluate({CPU: {"planner": 10.0}})
        except BaseException as exc:  # recorded for the assertion below
            failures.append(exc)

    evaluating = threading.Thread(target=round_)
    remover = threading.Thread(target=engine.remove_rule, args=("once",))
    try:
        evaluating.start()
        assert entered.wait(10)
        remover.start()
        remover.join(0.5)  # unfixed, the removal finished here, inside the round
    finally:
        release.set()
        evaluating.join(10)
        remover.join(10)
    assert failures == []
    assert engine.rules == []
    assert manager.get_active_alerts() == []


def test_a_rule_callback_may_read_the_dashboard_during_the_refresh_that_runs_it(
    make_dashboard: Any,
) -> None:
    """An ``on_alert`` that reads or exports the dashboard calls ``refresh()`` inside the
    refresh running it: that waited for ever on the refresh's own lock (the refresh thread,
    and every later ``get_dashboard_data()``, with it)."""
    dashboard = make_dashboard(config={"default_alert_rules": False})
    seen: list[int] = []

    def read_back(alert: Alert) -> None:
        seen.append(len(dashboard.get_dashboard_data()["alerts"]["active"]))

    dashboard.add_alert_rule(
        ThresholdRule("busy", RuleMetric.SYSTEM_CPU_USAGE, 30.0, 20.0, on_alert=read_back)
    )
    done = threading.Event()

    def refresh() -> None:
        dashboard.get_dashboard_data()
        done.set()

    worker = threading.Thread(target=refresh, daemon=True)  # daemon: a deadlock must not hang
    worker.start()
    assert done.wait(10), "refresh deadlocked on a callback that read the dashboard"
    worker.join(10)
    assert seen == [1]
