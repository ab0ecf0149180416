"""An unknown alert id's error names the setting that bounds the resolved alerts kept.

It used to say ``max_history``, which the dashboard ignores (that key bounds the profiler's
history); the dashboard's key is ``max_alert_history``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from otel_agents import AlertLevel
from otel_agents._alerts import UnknownAlertError


def test_a_forgotten_alert_names_max_alert_history_and_the_dashboard_honours_it(
    make_dashboard: Any,
) -> None:
    dashboard = make_dashboard(config={"max_alert_history": 1, "system_resources": False})
    ids = []
    for number in range(3):
        alert = dashboard.add_alert(AlertLevel.INFO, f"alert {number}", "tests")
        dashboard.resolve_alert(alert.alert_id)
        ids.append(alert.alert_id)

    with pytest.raises(UnknownAlertError) as caught:
        dashboard.acknowledge_alert(ids[0])  # dropped: only one resolved alert is kept

    message = str(caught.value)
    assert "only up to max_alert_history (1, the PerformanceDashboard config key)" in message
    assert re.search(r"\bmax_history\b", message) is None
    assert dashboard.acknowledge_alert(ids[-1]).acknowledged  # the one kept
