"""A resolution is kept: by the rules, and in the history.

A user who resolves a rule's alert has said "seen, enough": the rule stays quiet until its
condition clears (drops below ``clear_at``), also when the value only dips into the band
between ``clear_at`` and ``raise_at`` and rises again. And the history keeps each alert as
it was when resolved: an alert the rule later reopens must not rewrite that record.
"""

from __future__ import annotations

from otel_agents._alert_rules import RuleEngine, ThresholdRule
from otel_agents._alerts import AlertManager
from tests.dashboard.conftest import FakeClock

CPU = "cpu_usage"


def _engine(manager: AlertManager) -> RuleEngine:
    return RuleEngine(manager, [ThresholdRule("high_cpu", CPU, raise_at=90.0, clear_at=70.0)])


def test_a_user_resolved_alert_stays_resolved_after_a_dip_into_the_hysteresis_band(
    manager: AlertManager,
) -> None:
    engine = _engine(manager)
    engine.evaluate({CPU: {"planner": 95.0}})
    (alert,) = manager.get_active_alerts()
    manager.resolve(alert.alert_id)

    engine.evaluate({CPU: {"planner": 80.0}})  # below raise_at, not below clear_at
    engine.evaluate({CPU: {"planner": 95.0}})

    assert manager.get_active_alerts() == []


def test_a_user_resolved_alert_is_raised_anew_once_the_condition_cleared(
    manager: AlertManager,
) -> None:
    engine = _engine(manager)
    engine.evaluate({CPU: {"planner": 95.0}})
    (alert,) = manager.get_active_alerts()
    manager.resolve(alert.alert_id)

    engine.evaluate({CPU: {"planner": 80.0}})
    engine.evaluate({CPU: {"planner": 60.0}})  # cleared
    engine.evaluate({CPU: {"planner": 95.0}})

    (again,) = manager.get_active_alerts()
    assert again.alert_id != alert.alert_id


def test_a_reopened_alert_leaves_its_history_record_as_resolved(
    manager: AlertManager, clock: FakeClock
) -> None:
    engine = _engine(manager)
    engine.evaluate({CPU: {"planner": 95.0}})
    (alert,) = manager.get_active_alerts()
    clock.now += 10
    engine.evaluate({CPU: {"planner": 50.0}})  # the rule resolves it
    resolved_at = clock.now
    clock.now += 10
    engine.evaluate({CPU: {"planner": 97.0}})  # within reopen_window: the same alert again

    (reopened,) = manager.get_active_alerts()
    assert reopened.alert_id == alert.alert_id
    assert (reopened.resolved_by, reopened.resolved_at) == (None, None)
    (record,) = manager.get_history()
    assert record.alert_id == alert.alert_id
    assert (record.resolved_by, record.resolved_at) == ("rule", resolved_at)
    assert not record.active


def test_a_history_record_does_not_follow_a_reopened_alerts_context(
    clock: FakeClock,
) -> None:
    manager = AlertManager(clock=clock)
    alert = manager.raise_alert(
        "warning", "cpu high", "system_monitor", {"cpu": 91.0}, rule="r", subject="s"
    )
    manager.resolve(alert.alert_id, by="rule")
    clock.now += 10
    manager.raise_alert(
        "warning", "cpu high", "system_monitor", {"cpu": 99.0}, rule="r", subject="s"
    )

    (record,) = manager.get_history()
    assert record is not alert
    assert record.context == {"cpu": 91.0}
    assert record.count == 1
    assert alert.count == 2
