"""Rule hold times and the reopen window are intervals: measured on the monotonic clock.

Alert times (``created_at``, ``resolved_at``) are Unix seconds, but how long a condition has
held, or how long ago a rule cleared an alert, must not move when NTP steps the wall clock.
"""

from __future__ import annotations

from otel_agents._alert_rules import RuleEngine, RuleMetric, ThresholdRule
from otel_agents._alerts import AlertManager
from otel_agents.testing import TelemetryCapture
from tests.dashboard.conftest import SteppedClock

CPU = RuleMetric.CPU_USAGE.value
HOUR = 3600.0


def _engine(clock: SteppedClock, telemetry: TelemetryCapture, **fields: float) -> RuleEngine:
    manager = AlertManager(clock=clock, meter_provider=telemetry.meter_provider)
    rule = ThresholdRule("high_cpu", CPU, 90.0, 70.0, **fields)  # type: ignore[arg-type]
    return RuleEngine(manager, [rule])


def test_a_wall_clock_step_back_does_not_hold_back_an_alert(telemetry: TelemetryCapture) -> None:
    """A step back of an hour while CPU was high kept the 15 s rule silent for an hour."""
    clock = SteppedClock()
    engine = _engine(clock, telemetry, for_seconds=15.0)
    engine.evaluate({CPU: {"planner": 95.0}})
    clock.wall -= HOUR
    clock.advance(20)
    engine.evaluate({CPU: {"planner": 95.0}})
    assert [a.rule for a in engine.manager.get_active_alerts()] == ["high_cpu"]


def test_a_wall_clock_step_forward_does_not_skip_the_hold(telemetry: TelemetryCapture) -> None:
    """A step forward raised at once a condition that had held for 1 s of the 15 s."""
    clock = SteppedClock()
    engine = _engine(clock, telemetry, for_seconds=15.0)
    engine.evaluate({CPU: {"planner": 95.0}})
    clock.wall += HOUR
    clock.advance(1)
    engine.evaluate({CPU: {"planner": 95.0}})
    assert engine.manager.get_active_alerts() == []
    clock.advance(14)
    engine.evaluate({CPU: {"planner": 95.0}})
    assert len(engine.manager.get_active_alerts()) == 1


def test_a_wall_clock_step_back_does_not_stretch_the_reopen_window(
    telemetry: TelemetryCapture,
) -> None:
    """Cleared 400 s ago by the monotonic clock (window 300 s): a new alert, not a reopen,
    although the wall clock, stepped back an hour, says the clear is in the future."""
    clock = SteppedClock()
    engine = _engine(clock, telemetry)
    engine.evaluate({CPU: {"planner": 95.0}})
    (first,) = engine.manager.get_active_alerts()
    engine.evaluate({CPU: {"planner": 50.0}})
    clock.wall -= HOUR
    clock.advance(400)
    engine.evaluate({CPU: {"planner": 95.0}})
    (second,) = engine.manager.get_active_alerts()
    assert second.alert_id != first.alert_id
    assert second.count == 1


def test_within_the_reopen_window_by_the_monotonic_clock_the_alert_reopens(
    telemetry: TelemetryCapture,
) -> None:
    """A step forward of an hour does not end the window: cleared 10 s ago, it reopens."""
    clock = SteppedClock()
    engine = _engine(clock, telemetry)
    engine.evaluate({CPU: {"planner": 95.0}})
    (first,) = engine.manager.get_active_alerts()
    engine.evaluate({CPU: {"planner": 50.0}})
    clock.wall += HOUR
    clock.advance(10)
    engine.evaluate({CPU: {"planner": 95.0}})
    (again,) = engine.manager.get_active_alerts()
    assert (again.alert_id, again.count) == (first.alert_id, 2)
