"""The dashboard's alert history is the 50 most recently resolved alerts, oldest first.

The alert manager keeps up to ``max_alert_history`` resolved alerts; the dashboard data
shows only the last 50 of them (docs/dashboard.md), which must be the newest: an operator
looking at the dashboard wants what just happened, not what was resolved hours ago.
"""

from __future__ import annotations

from typing import Any

import pytest

from otel_agents import AlertLevel
from tests.dashboard.conftest import FakeClock


@pytest.mark.parametrize(
    ("resolved", "level", "shown_count"),
    [(60, AlertLevel.WARNING, 50), (3, AlertLevel.INFO, 3)],
    ids=["the newest fifty of sixty", "all of three"],
)
def test_the_dashboard_shows_the_newest_fifty_resolved_alerts(
    make_dashboard: Any, clock: FakeClock, resolved: int, level: AlertLevel, shown_count: int
) -> None:
    dashboard = make_dashboard(config={"system_resources": False})
    ids = []
    for number in range(resolved):
        clock.now += 1
        alert = dashboard.add_alert(level, f"alert {number}", "tests")
        dashboard.resolve_alert(alert.alert_id)
        ids.append(alert.alert_id)

    shown = [entry["alert_id"] for entry in dashboard.get_dashboard_data()["alerts"]["history"]]

    assert shown == ids[-shown_count:]
