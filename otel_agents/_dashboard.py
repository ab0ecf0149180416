"""The seed's ``PerformanceDashboard``: views, alerts and health, from the same numbers as OTel.

Each refresh (every ``refresh_interval`` seconds once :meth:`PerformanceDashboard.start`
is called, and on every :meth:`~PerformanceDashboard.get_dashboard_data`) reads the tracker,
the agent manager, the gateway and the machine's resources, runs the alert rules
(:mod:`otel_agents._alert_rules`), computes health scores (:mod:`otel_agents._health`) and
keeps the result. The ``agent.health.score`` and ``agent.alerts.active`` gauges report that
same result, so what :meth:`~PerformanceDashboard.get_dashboard_data` returns and what the
exporters send agree; a score is exported for ``max(window_seconds, 2 * refresh_interval)``
seconds after its refresh, so a dashboard that stopped refreshing stops reporting it.

This module is the dashboard's API, its refresh thread and its history of points; the data
each refresh assembles (per-agent figures, totals, health, sections) is
:mod:`otel_agents._dashboard_data`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry._logs import LoggerProvider

from otel_agents import semconv
from otel_agents._alert_record import Alert, AlertLevel
from otel_agents._alert_rules import (
    DEFAULT_RULES,
    RuleEngine,
    ThresholdRule,
    rules_from_config,
)
from otel_agents._alerts import AlertManager
from otel_agents._audit import audit_log
from otel_agents._config_params import resolve_mapping
from otel_agents._dashboard_data import build_data
from otel_agents._dashboard_sources import (
    ResourceReader,
    Sources,
    system_resources_reader,
)
from otel_agents._dashboard_telemetry import gateway_series
from otel_agents._dashboard_window import WindowedTotals
from otel_agents._errors import invalid_type, invalid_value
from otel_agents._export import export_envelope, write_json_atomic
from otel_agents._health import HealthReporter, HealthWeights
from otel_agents._history import BoundedHistory, TimeRange
from otel_agents._inprocess import InProcessMetrics, installed_reader
from otel_agents._logs import redacting_logger
from otel_agents._runtime import Clock, PeriodicThread, as_clock
from otel_agents._seed_params import DASHBOARD, DASHBOARD_PARAMS
from otel_agents._version import scope_name

__all__ = ["AlertLevel", "DashboardView", "PerformanceDashboard"]

_logger = redacting_logger(scope_name(__name__))


class DashboardView(StrEnum):
    """What the dashboard shows. Pass a member or its value (``"alerts"``)."""

    SYSTEM_OVERVIEW = "system_overview"
    AGENT_PERFORMANCE = "agent_performance"
    METRICS_DETAIL = "metrics_detail"
    ALERTS = "alerts"
    HISTORICAL = "historical"


_VIEW_CHOICES = [view.value for view in DashboardView]


class PerformanceDashboard:
    """Real-time views, alerts and health scores over a tracker, agent manager and gateway.

    Args:
        performance_tracker: a :class:`~otel_agents.PerformanceTracker` (or anything with
            ``get_metrics(time_range=...)`` and ``get_agents()``).
        agent_manager: an ``AgentCommunicationProtocol`` (anything with ``list_agents()``
            returning objects with ``agent_id``, ``name`` and ``status``).
        config: ``refresh_interval`` (5 s), ``window_seconds`` (300), ``max_alert_history``
            (1000), ``max_active_alerts`` (1000), ``alert_reopen_window`` (300 s),
            ``max_history_points`` (720), ``system_resources`` (True),
            ``default_alert_rules`` (True) and ``alert_rules`` (a list of rule dicts).
        gateway: an ``APIGateway`` (anything with ``list_services()``), for upstream health.
        rules: extra :class:`~otel_agents._alert_rules.ThresholdRule` objects or dicts.
        resource_reader: returns ``{"cpu_percent": ..., "memory_percent": ...}``; psutil by
            default (when ``system_resources`` is on).
        health_weights: the constants of the health formula.
        clock: a :class:`~otel_agents._runtime.Clock` (or a function returning Unix
            seconds): ``time()`` for alert times, ``monotonic()`` for rule hold times, the
            reopen window, the gateway totals' window and the health score's age (a
            wall-clock step moves none of them); inject a fake in tests.
        metrics_reader: the in-process reader whose metrics the ``telemetry`` section,
            the request and message totals and the per-agent message counts come from;
            default: the one ``configure(dashboard=True)`` (``OTEL_AGENTS_DASHBOARD``)
            registered, looked up at each refresh. Without one, only the tracker's
            records are shown and ``telemetry`` is ``{"available": False}``.
        tracer_provider, meter_provider, logger_provider: default to the global ones.

    Raises:
        ConfigurationError: an unknown config key or a bad value.
        InvalidValueError: an alert rule on an unknown metric, or another bad rule.
        InvalidTypeError: a tracker, agent manager or gateway without the methods read.
    """

    def __init__(
        self,
        performance_tracker: Any = None,
        agent_manager: Any = None,
        config: Mapping[str, Any] | None = None,
        *,
        gateway: Any = None,
        rules: Iterable[ThresholdRule | Mapping[str, Any]] | None = None,
        resource_reader: ResourceReader | None = None,
        health_weights: HealthWeights | None = None,
        clock: Clock | Callable[[], float] | None = None,
        metrics_reader: InProcessMetrics | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        logger_provider: LoggerProvider | None = None,
    ) -> None:
        clock = as_clock(clock)
        self.config = resolve_mapping(DASHBOARD, DASHBOARD_PARAMS, config)
        rule_entries = self.config.pop("alert_rules")
        _needs(performance_tracker, "performance_tracker", "get_metrics", "a PerformanceTracker")
        _needs(agent_manager, "agent_manager", "list_agents", "an AgentCommunicationProtocol")
        _needs(gateway, "gateway", "list_services", "an APIGateway")
        self.performance_tracker = performance_tracker
        self.agent_manager = agent_manager
        self.gateway = gateway
        if resource_reader is None and self.config["system_resources"]:
            resource_reader = system_resources_reader()
        self._sources = Sources(performance_tracker, agent_manager, gateway, resource_reader)
        self.alert_manager = AlertManager(
            max_history=self.config["max_alert_history"],
            max_active=self.config["max_active_alerts"],
            reopen_window=self.config["alert_reopen_window"],
            clock=clock,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
        )
        initial = list(DEFAULT_RULES) if self.config["default_alert_rules"] else []
        initial += rules_from_config(rule_entries or ())
        initial += rules_from_config(rules or ())
        self.rule_engine = RuleEngine(self.alert_manager, initial)
        self.health_weights = health_weights or HealthWeights()
        self.current_view = DashboardView.SYSTEM_OVERVIEW
        self._clock = clock.time
        self._monotonic = clock.monotonic
        if metrics_reader is not None and not isinstance(metrics_reader, InProcessMetrics):
            raise invalid_type(
                "metrics_reader", metrics_reader, "an otel_agents._inprocess.InProcessMetrics"
            )
        self._metrics_reader = metrics_reader
        # The gateway's totals are lifetime ones: the first reading is the window's start.
        self._gateway_window = WindowedTotals(self.config["window_seconds"])
        reader = metrics_reader or installed_reader()
        if reader is not None:
            series = gateway_series(reader.snapshot())
            self._gateway_window.baseline(reader, self._monotonic(), series)
        self._history: BoundedHistory[dict[str, Any]] = BoundedHistory(
            self.config["max_history_points"], _point_time, parameter="max_history_points"
        )
        self._state: dict[str, Any] | None = None
        self._state_at = 0.0  # when _state was computed, on the monotonic clock
        # A kept score is exported this long (then its series ends, as the tracker's gauges
        # do): a dashboard that stopped refreshing must not report its last score for ever.
        self._score_max_age = max(
            self.config["window_seconds"], 2 * self.config["refresh_interval"]
        )
        # Reentrant: rule callbacks and alert listeners run inside a refresh, on its thread,
        # and one that reads or exports the dashboard refreshes again (a plain lock waited
        # for itself for ever, and the refresh thread with it).
        self._refresh_lock = threading.RLock()
        self._refresher = PeriodicThread(
            self.config["refresh_interval"],
            self.refresh,
            name="otel-agents-dashboard",
            logger=_logger,
            immediately=True,
        )
        # The gauge holds its reporter weakly: it reports as long as this dashboard lives.
        self._health_reporter = HealthReporter(self._scores, meter_provider=meter_provider)
        self._audit = audit_log(logger_provider)

    # -- the seed's API --------------------------------------------------------------------
    def start(self) -> None:
        """Refresh every ``refresh_interval`` seconds on a daemon thread (safe to call twice)."""
        self._refresher.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop refreshing and wait for the thread to end (safe to call twice)."""
        self._refresher.stop(timeout)

    @property
    def running(self) -> bool:
        return self._refresher.running

    def set_view(self, view: DashboardView | str) -> DashboardView:
        """Choose the current view; returns it.

        Raises:
            InvalidValueError: not a :class:`DashboardView` or one of its values.
        """
        if isinstance(view, DashboardView):
            self.current_view = view
        elif isinstance(view, str) and view.strip().lower() in _VIEW_CHOICES:
            self.current_view = DashboardView(view.strip().lower())
        elif isinstance(view, str):
            raise invalid_value("view", view, "a DashboardView", _VIEW_CHOICES)
        else:
            raise invalid_type("view", view, "a DashboardView or its value", _VIEW_CHOICES)
        return self.current_view

    def add_alert(
        self,
        level: AlertLevel | str,
        message: str,
        source: str,
        context: Mapping[str, Any] | None = None,
    ) -> Alert:
        """Raise an alert (a repeat of an active one only counts up); returns it.

        Raises:
            InvalidValueError: an unknown level, an empty message or source.
        """
        return self.alert_manager.raise_alert(level, message, source, context)

    def acknowledge_alert(self, alert_id: str, *, actor: str | None = None) -> Alert:
        """Mark an alert as seen; audited as ``alert.acknowledge`` by ``actor``.

        Raises :class:`~otel_agents._alerts.UnknownAlertError` (audited as a failure).
        """
        return self._audited(semconv.AUDIT_ALERT_ACKNOWLEDGE, alert_id, actor, True)

    def resolve_alert(self, alert_id: str, *, actor: str | None = None) -> Alert:
        """Resolve an alert; audited as ``alert.resolve`` by ``actor``.

        Raises :class:`~otel_agents._alerts.UnknownAlertError` (audited as a failure).
        """
        return self._audited(semconv.AUDIT_ALERT_RESOLVE, alert_id, actor, False)

    def _audited(self, action: str, alert_id: str, actor: str | None, ack: bool) -> Alert:
        who = actor if isinstance(actor, str) and actor else _LOCAL_ACTOR
        try:
            if ack:
                alert = self.alert_manager.acknowledge(alert_id)
            else:
                alert = self.alert_manager.resolve(alert_id)
        except Exception:
            self._audit.record(
                action, actor=who, target=str(alert_id), outcome=semconv.AUDIT_OUTCOME_FAILURE
            )
            raise
        self._audit.record(action, actor=who, target=alert.alert_id)
        return alert

    def get_active_alerts(self, level: AlertLevel | str | None = None) -> list[Alert]:
        return self.alert_manager.get_active_alerts(level)

    def get_alert_history(self, time_range: TimeRange = None) -> list[Alert]:
        return self.alert_manager.get_history(time_range)

    def add_alert_rule(self, rule: ThresholdRule | Mapping[str, Any]) -> ThresholdRule:
        """Add a threshold rule. Raises InvalidValueError for an unknown metric."""
        return self.rule_engine.add_rule(rule)

    def get_dashboard_data(self) -> dict[str, Any]:
        """Refresh now and return everything the views show, as JSON-ready data.

        Every section is always there (the seed's example reads ``alerts`` whatever the
        view); ``current_view`` holds the sections of the view :meth:`set_view` chose, so
        a client that shows one view reads that key only.
        """
        return self.refresh()

    def export_dashboard_data(self, filepath: str | Path, *, encrypt: bool = False) -> Path:
        """Write :meth:`get_dashboard_data` to ``filepath`` as JSON, atomically.

        ``encrypt=True``: encrypted with ``OTEL_AGENTS_EXPORT_KEY``.
        """
        data = export_envelope("dashboard", self.get_dashboard_data())
        return write_json_atomic(filepath, data, encrypt=encrypt)

    # -- refreshing ------------------------------------------------------------------------
    def refresh(self) -> dict[str, Any]:
        """Read every source, run the alert rules, score health; keep and return the data."""
        with self._refresh_lock:
            data = build_data(self)
            self._state, self._state_at = data, self._monotonic()
            system = data["system"]
            point = {key: system[key] for key in _HISTORY_KEYS}
            self._history.append({"timestamp": data["timestamp"], **point})
            data["historical"] = self._history.snapshot()
            data["current_view"] = {
                key: data[key] for key in _VIEW_SECTIONS[DashboardView(data["view"])]
            }
        return data

    def _scores(self) -> tuple[float | None, dict[str, float]]:
        state = self._state
        if state is None or self._monotonic() - self._state_at > self._score_max_age:
            return None, {}
        return state["system"]["health_score"], {
            agent_id: agent["health_score"] for agent_id, agent in state["agents"].items()
        }

    def __enter__(self) -> PerformanceDashboard:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


#: The sections each view shows, in ``current_view``.
_VIEW_SECTIONS: dict[DashboardView, tuple[str, ...]] = {
    DashboardView.SYSTEM_OVERVIEW: ("system", "upstreams"),
    DashboardView.AGENT_PERFORMANCE: ("agents",),
    DashboardView.METRICS_DETAIL: ("metrics", "telemetry"),
    DashboardView.ALERTS: ("alerts", "rules"),
    DashboardView.HISTORICAL: ("historical",),
}

#: The actor of an alert change made in this process without ``actor=``.
_LOCAL_ACTOR = "local"

_HISTORY_KEYS = (
    "health_score",
    "cpu_percent",
    "memory_percent",
    "error_rate_percent",
    "agents_available",
    "agents_total",
    "active_alerts",
)


def _point_time(point: dict[str, Any]) -> float:
    return float(point["timestamp"])


def _needs(component: Any, parameter: str, method: str, expected: str) -> None:
    if component is not None and not callable(getattr(component, method, None)):
        raise invalid_type(parameter, component, f"{expected} (an object with {method}())")
