"""Alerts over time: the manager that raises, folds, reopens and resolves them as telemetry.

The levels and the alert record are :mod:`otel_agents._alert_record`. An
:class:`AlertManager` keeps the active alerts and a bounded history of resolved ones.
Alerts leave the process as the ``agent.alerts.active`` gauge and ``agent.alerts.raised``
counter (by ``alert.level`` and ``alert.source``; a pair that had alerts keeps reporting 0)
and as log records whose severity follows the level (:mod:`otel_agents._alert_telemetry`).

Raising an alert that is already active (same level, source, agent and rule or message)
counts a repeat on the existing alert instead of creating another; an alert a rule resolved
less than ``reopen_window`` seconds ago is reopened the same way. So a flapping condition
yields one alert with a count, never hundreds. A reopen is not counted as a new alert by
``agent.alerts.raised`` (it is the same alert, with the same id), but listeners and the log
hear of it, as they heard of its resolution: the alert, active again, and an
``otel_agents.alert`` record with its higher ``alert.count``. Messages never become metric
attributes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry._logs import LoggerProvider

from otel_agents._alert_record import LEVEL_CHOICES, Alert, AlertLevel, coerce_level
from otel_agents._alert_telemetry import AlertTelemetry
from otel_agents._errors import InvalidValueError, invalid_type, invalid_value
from otel_agents._export import redact
from otel_agents._history import BoundedHistory, TimeRange
from otel_agents._logs import redacting_logger
from otel_agents._runtime import Clock, FailureLog, as_clock, failsafe_call
from otel_agents._version import scope_name

__all__ = ["AlertManager", "UnknownAlertError"]

_logger = redacting_logger(scope_name(__name__))

AlertListener = Callable[["Alert"], Any]


class UnknownAlertError(InvalidValueError):
    """No alert, active or in history, has the given id."""


class AlertManager:
    """Owns active alerts and a bounded history; reports them as metrics and log records.

    Args:
        max_history: resolved alerts kept (oldest dropped first).
        max_active: unresolved alerts kept; past it, the oldest is resolved as ``overflow``.
        reopen_window: seconds during which an alert a rule resolved is reopened, not
            raised anew, when its condition returns.
        clock: a :class:`~otel_agents._runtime.Clock` (or a function returning Unix
            seconds): alert times come from ``time()``, the reopen window is measured with
            ``monotonic()``; inject a fake one in tests.
        meter_provider: defaults to the global one.
        tracer_provider: defaults to the global one; used only when logs are off.
        logger_provider: defaults to the global one. With none configured (or a no-op one),
            an alert becomes an event on the current span, or on a short span of its own
            (named ``otel_agents.alert``) when no span is recording.
    """

    #: (level, source) pairs the active gauge keeps reporting; beyond this, new pairs are
    #: reported only while they have alerts.
    MAX_REPORTED_PAIRS = 200

    def __init__(
        self,
        *,
        max_history: int = 1000,
        max_active: int = 1000,
        reopen_window: float = 300.0,
        clock: Clock | Callable[[], float] | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        logger_provider: LoggerProvider | None = None,
    ) -> None:
        clocks = as_clock(clock)
        self._clock = clocks.time
        # Intervals (the reopen window, rule hold times) are read on the monotonic clock:
        # an NTP step of the wall clock must neither stretch nor cut them.
        self._monotonic = clocks.monotonic
        self.reopen_window = reopen_window
        self.max_active = max_active
        self._lock = threading.RLock()
        self._active: dict[str, Alert] = {}
        self._by_key: dict[tuple[str, ...], Alert] = {}
        self._history: BoundedHistory[Alert] = BoundedHistory(
            max_history, _resolved_at, parameter="max_history"
        )
        self._pairs: set[tuple[str, str]] = set()
        self._listeners: list[AlertListener] = []
        self._failures = FailureLog(_logger, "%s raised; alerting goes on (logged once)")
        self._telemetry = AlertTelemetry(
            self.counts,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
        )

    @property
    def clock(self) -> Callable[[], float]:
        """Unix seconds, for the times an alert records."""
        return self._clock

    @property
    def monotonic(self) -> Callable[[], float]:
        """Seconds for intervals (hold times, the reopen window); never steps back."""
        return self._monotonic

    # -- raising, acknowledging, resolving -------------------------------------------------
    def raise_alert(
        self,
        level: AlertLevel | str,
        message: str,
        source: str,
        context: Mapping[str, Any] | None = None,
        *,
        agent_id: str | None = None,
        rule: str | None = None,
        subject: str | None = None,
    ) -> Alert:
        """Raise an alert, or count a repeat of the same one (see the module docstring).

        ``agent_id`` names the agent the alert is about; ``rule`` and ``subject`` (an agent,
        service or ``system``) identify an alert a threshold rule raised.

        Raises:
            InvalidValueError: an unknown level, or an empty message or source.
            InvalidTypeError: a message or source that is not a string, or a context that
                is not a mapping.
        """
        level = coerce_level(level)
        message = _text("message", message, "a non-empty message such as 'High CPU usage'")
        source = _text("source", source, "a non-empty component name such as 'system_monitor'")
        if context is not None and not isinstance(context, Mapping):
            raise invalid_type("context", context, "a mapping such as {'cpu': 93.5}")
        cleaned = redact(context) or {}
        key = (level.value, source, agent_id or subject or "", rule or message)
        now = self._clock()
        elapsed = self._monotonic()
        with self._lock:
            alert = self._by_key.get(key)
            if alert is not None and (
                alert.active
                or (alert.resolved_by == "rule" and self._in_reopen_window(alert, elapsed))
            ):
                new = False
                reopened = not alert.active
                alert.count += 1
                alert.last_seen_at = now
                alert.context.update(cleaned)
                if reopened:
                    alert.resolved_at = alert.resolved_by = None
                    alert._resolved_monotonic = None
                    self._active[alert.alert_id] = alert
            else:
                new = True
                reopened = False
                self._forget_expired(elapsed)
                alert = Alert(
                    uuid.uuid4().hex, level, message, source, cleaned, now, now,
                    agent_id=agent_id, rule=rule, _key=key,
                )  # fmt: skip
                self._active[alert.alert_id] = alert
                self._by_key[key] = alert
                if len(self._pairs) < self.MAX_REPORTED_PAIRS:
                    self._pairs.add((level.value, source))
            overflow = self._overflow()
        if new:
            self._telemetry.raised(alert)
            self._notify(alert)
        elif reopened:  # listeners heard it resolved: they hear it is active again
            self._telemetry.reopened(alert)
            self._notify(alert)
        for dropped in overflow:
            self._after_resolve(dropped)
        return alert

    def acknowledge(self, alert_id: str) -> Alert:
        """Mark an alert as seen by someone. Acknowledging twice keeps the first time.

        Raises:
            UnknownAlertError: no alert has this id.
        """
        with self._lock:
            alert = self.get_alert(alert_id)
            if alert.acknowledged_at is None:
                alert.acknowledged_at = self._clock()
        return alert

    def resolve(self, alert_id: str, *, by: str = "user") -> Alert:
        """Resolve an active alert (resolving a resolved one changes nothing).

        Raises:
            UnknownAlertError: no alert has this id.
        """
        with self._lock:
            alert = self.get_alert(alert_id)
            if not alert.active:
                return alert
            self._close(alert, by)
        self._after_resolve(alert)
        return alert

    def get_alert(self, alert_id: str) -> Alert:
        """The alert with this id, active or resolved.

        Raises:
            UnknownAlertError: no alert has this id.
        """
        with self._lock:
            alert = self._active.get(alert_id) if isinstance(alert_id, str) else None
            if alert is None:
                history = reversed(self._history.snapshot())
                alert = next((a for a in history if a.alert_id == alert_id), None)
        if alert is None:
            # Named by the dashboard's config key: that is where users set the bound (the
            # manager's own max_history argument is not public).
            raise UnknownAlertError(
                f"alert_id={alert_id!r} is not valid: expected the id of a raised alert "
                "(see get_active_alerts() or the alert's alert_id); resolved alerts are kept "
                f"only up to max_alert_history ({self._history.max_items}, the "
                "PerformanceDashboard config key): raise it to keep older ones"
            )
        return alert

    # -- views -----------------------------------------------------------------------------
    def get_active_alerts(
        self, level: AlertLevel | str | None = None, source: str | None = None
    ) -> list[Alert]:
        """Unresolved alerts, oldest first, optionally of one level or source."""
        wanted = None if level is None else coerce_level(level)
        with self._lock:
            alerts = list(self._active.values())
        return [
            a
            for a in alerts
            if (wanted is None or a.level is wanted) and (source is None or a.source == source)
        ]

    def get_history(self, time_range: TimeRange = None) -> list[Alert]:
        """Resolved alerts in ``time_range`` (by resolution time), oldest first."""
        return self._history.select(time_range)

    def counts(self) -> dict[tuple[str, str], int]:
        """Active alerts by (level, source); pairs that ever had one report 0."""
        with self._lock:
            found = dict.fromkeys(self._pairs, 0)
            for alert in self._active.values():
                pair = (alert.level.value, alert.source)
                found[pair] = found.get(pair, 0) + 1
        return found

    def counts_by_level(self) -> dict[str, int]:
        """Active alerts by level, every level present."""
        found = dict.fromkeys(LEVEL_CHOICES, 0)
        for (level, _source), count in self.counts().items():
            found[level] += count
        return found

    # -- listeners -------------------------------------------------------------------------
    def add_listener(self, listener: AlertListener) -> None:
        """Call ``listener(alert)`` for each new alert, each resolution and each reopening of
        a resolved alert (failsafe); repeats of an active alert are not passed on."""
        if not callable(listener):
            raise invalid_type("listener", listener, "a callable taking an Alert")
        self._listeners = [*self._listeners, listener]

    def call_failsafe(self, callback: Callable[[Alert], Any], alert: Alert, what: str) -> None:
        """Run a user callback; one that raises is logged the first time, then ignored."""
        failsafe_call(callback, alert, failures=self._failures, detail=f"{what} {callback!r}")

    # -- internals -------------------------------------------------------------------------
    def _close(self, alert: Alert, by: str) -> None:
        alert.resolved_at = self._clock()
        alert._resolved_monotonic = self._monotonic()
        alert.resolved_by = by
        del self._active[alert.alert_id]
        # History keeps a copy: a reopened alert must not change what was recorded.
        self._history.append(replace(alert, context=dict(alert.context)))
        if by != "rule" and self._by_key.get(alert._key) is alert:
            del self._by_key[alert._key]

    def _in_reopen_window(self, alert: Alert, elapsed: float) -> bool:
        resolved = alert._resolved_monotonic
        return resolved is not None and elapsed - resolved <= self.reopen_window

    def _forget_expired(self, elapsed: float) -> None:
        expired = [
            key
            for key, alert in self._by_key.items()
            if not alert.active and not self._in_reopen_window(alert, elapsed)
        ]
        for key in expired:
            del self._by_key[key]

    def _overflow(self) -> list[Alert]:
        dropped = []
        while len(self._active) > self.max_active:
            oldest = next(iter(self._active.values()))
            self._close(oldest, "overflow")
            dropped.append(oldest)
        return dropped

    def _after_resolve(self, alert: Alert) -> None:
        self._telemetry.resolved(alert)
        self._notify(alert)

    def _notify(self, alert: Alert) -> None:
        for listener in self._listeners:
            self.call_failsafe(listener, alert, "alert listener")


def _resolved_at(alert: Alert) -> float:
    return alert.resolved_at or 0.0


def _text(parameter: str, value: object, expected: str) -> str:
    if not isinstance(value, str):
        raise invalid_type(parameter, value, expected)
    if not value.strip():
        raise invalid_value(parameter, value, expected)
    return value
