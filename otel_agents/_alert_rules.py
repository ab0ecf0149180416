"""Threshold rules: automatic alerts with hysteresis, a minimum duration and de-duplication.

A :class:`ThresholdRule` watches one :class:`RuleMetric` for every subject it has readings
for (an agent, a gateway service, or ``system``). It raises at ``raise_at`` once the value
has stayed there for ``for_seconds``, and clears only when the value crosses ``clear_at``,
so a value hovering around the threshold raises one alert. Higher values are worse when
``raise_at >= clear_at``; lower values are worse otherwise (a health score, say).

The :class:`RuleEngine` feeds readings to the rules and raises or resolves alerts through an
:class:`~otel_agents._alerts.AlertManager`, which folds repeats (and quick reopenings) into one
alert with a count. A subject that has no reading any more counts as cleared. An alert a user
resolved while its condition holds stays resolved until the condition clears.

Rule callbacks (``on_alert``, ``on_clear``) run failsafe: one that raises is logged once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from otel_agents._alert_record import Alert, AlertLevel, coerce_level
from otel_agents._alerts import AlertManager
from otel_agents._errors import invalid_type, invalid_value
from otel_agents._numbers import is_real

__all__ = ["DEFAULT_RULES", "RuleEngine", "RuleMetric", "ThresholdRule", "rules_from_config"]


class RuleMetric(StrEnum):
    """What a rule can watch, each read per subject at every dashboard refresh."""

    #: An agent's latest tracked CPU usage, percent.
    CPU_USAGE = "cpu_usage"
    #: An agent's latest tracked memory usage, bytes.
    MEMORY_USAGE = "memory_usage"
    #: An agent's 95th percentile response time over the window, seconds.
    RESPONSE_TIME_P95 = "response_time_p95"
    #: An agent's error rate over the window, percent.
    ERROR_RATE = "error_rate"
    #: 1 when the agent manager reports an agent offline or in error, else 0.
    AGENT_OFFLINE = "agent_offline"
    #: Instances of a gateway service out of rotation.
    UPSTREAM_UNHEALTHY = "upstream_unhealthy"
    #: The machine's CPU in use, percent (subject ``system``).
    SYSTEM_CPU_USAGE = "system_cpu_usage"
    #: The machine's memory in use, percent (subject ``system``).
    SYSTEM_MEMORY_USAGE = "system_memory_usage"

    @property
    def default_source(self) -> str:
        return _SOURCES.get(self, "performance_monitor")


_SOURCES = {
    RuleMetric.AGENT_OFFLINE: "agent_manager",
    RuleMetric.UPSTREAM_UNHEALTHY: "api_gateway",
    RuleMetric.SYSTEM_CPU_USAGE: "system_monitor",
    RuleMetric.SYSTEM_MEMORY_USAGE: "system_monitor",
}
_METRIC_CHOICES = [metric.value for metric in RuleMetric]

RuleCallback = Callable[[Alert], Any]
#: The fields a rule dict must have (the others have defaults).
_REQUIRED = ("name", "metric", "raise_at")
_SOURCE_EXPECTED = "a non-empty component name such as 'system_monitor', or None for the default"


def _metric(metric: object) -> RuleMetric:
    if isinstance(metric, RuleMetric):
        return metric
    if isinstance(metric, str) and metric in _METRIC_CHOICES:
        return RuleMetric(metric)
    raise invalid_value(
        "metric", metric, "a metric the alert rules can watch (RuleMetric)", _METRIC_CHOICES
    )


def _finite(parameter: str, value: object) -> float:
    if not is_real(value):
        raise invalid_value(parameter, value, "a finite number")
    return float(value)


@dataclass(frozen=True)
class ThresholdRule:
    """Raise an alert when ``metric`` reaches ``raise_at``; clear it past ``clear_at``.

    Args:
        name: unique among the engine's rules; becomes the alert's ``rule``.
        metric: a :class:`RuleMetric` or its value.
        raise_at: the threshold that raises (``value >= raise_at``, or ``<=`` when lower
            is worse).
        clear_at: the threshold that clears (``value < clear_at``, or ``>``); defaults to
            ``raise_at`` (no hysteresis band).
        level: the alert's level.
        for_seconds: how long the threshold must hold before the alert is raised.
        source: the alert's source; by default one per metric family.
        message: a template with ``{rule}``, ``{metric}``, ``{subject}``, ``{value}`` and
            ``{threshold}``.
        on_alert: called with the alert when it is raised or reopened (failsafe).
        on_clear: called with the alert when the rule resolves it (failsafe).

    Raises:
        InvalidValueError: an unknown metric or level, an empty name or source, a threshold
            that is not finite, a negative ``for_seconds``.
        InvalidTypeError: a source that is not a string, a callback that is not callable.
    """

    name: str
    metric: RuleMetric | str
    raise_at: float
    clear_at: float | None = None
    level: AlertLevel | str = AlertLevel.WARNING
    for_seconds: float = 0.0
    source: str | None = None
    message: str = "{rule}: {metric} of {subject} is {value:.4g} (threshold {threshold:g})"
    on_alert: RuleCallback | None = field(default=None, compare=False)
    on_clear: RuleCallback | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise invalid_value("name", self.name, "a non-empty rule name such as 'high_cpu'")
        set_ = object.__setattr__
        set_(self, "metric", _metric(self.metric))
        set_(self, "level", coerce_level(self.level))
        set_(self, "raise_at", _finite("raise_at", self.raise_at))
        clear_at = self.raise_at if self.clear_at is None else self.clear_at
        set_(self, "clear_at", _finite("clear_at", clear_at))
        if _finite("for_seconds", self.for_seconds) < 0:
            raise invalid_value("for_seconds", self.for_seconds, "0 or more seconds")
        if self.source is None:
            set_(self, "source", RuleMetric(self.metric).default_source)
        # Checked now, as raise_alert would check it: an empty source used to be taken here
        # and then fail every refresh once the rule breached (the rules after it unrun).
        if not isinstance(self.source, str):
            raise invalid_type("source", self.source, _SOURCE_EXPECTED)
        if not self.source.strip():
            raise invalid_value("source", self.source, _SOURCE_EXPECTED)
        try:
            self.message.format(rule="r", metric="m", subject="s", value=1.0, threshold=1.0)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            raise invalid_value(
                "message",
                self.message,
                "a template using only {rule}, {metric}, {subject}, {value} and {threshold}",
            ) from exc
        for name in ("on_alert", "on_clear"):
            callback = getattr(self, name)
            if callback is not None and not callable(callback):
                raise invalid_type(name, callback, "a callable taking an Alert")

    @classmethod
    def from_mapping(cls, entry: Mapping[str, Any]) -> ThresholdRule:
        """A rule from a config entry such as ``{"name": ..., "metric": ..., "raise_at": ...}``."""
        if not isinstance(entry, Mapping):
            raise invalid_type("alert_rules[]", entry, "a ThresholdRule or a dict of its fields")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(entry) - known)
        if unknown:
            raise invalid_value("alert_rules[]", unknown, "ThresholdRule fields", known)
        missing = [name for name in _REQUIRED if name not in entry]
        if missing:
            raise invalid_value(
                "alert_rules[]",
                entry,
                f"a rule dict with every required field (missing {', '.join(missing)};"
                f" required: {', '.join(_REQUIRED)}; e.g. {{'name': 'slow',"
                " 'metric': 'response_time_p95', 'raise_at': 2.0})",
            )
        return cls(**entry)

    @property
    def higher_is_worse(self) -> bool:
        return self.raise_at >= float(self.clear_at or 0.0)

    def breached(self, value: float) -> bool:
        return value >= self.raise_at if self.higher_is_worse else value <= self.raise_at

    def cleared(self, value: float) -> bool:
        clear_at = float(self.clear_at if self.clear_at is not None else self.raise_at)
        return value < clear_at if self.higher_is_worse else value > clear_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metric": str(self.metric),
            "raise_at": self.raise_at,
            "clear_at": self.clear_at,
            "level": str(self.level),
            "for_seconds": self.for_seconds,
            "source": self.source,
        }


#: The rules a dashboard starts with (see docs/dashboard.md for the table).
DEFAULT_RULES: tuple[ThresholdRule, ...] = (
    ThresholdRule("high_cpu", RuleMetric.CPU_USAGE, 85.0, 70.0, AlertLevel.WARNING, 15.0),
    ThresholdRule("slow_agent", RuleMetric.RESPONSE_TIME_P95, 2.0, 1.0, AlertLevel.WARNING, 30.0),
    ThresholdRule("high_error_rate", RuleMetric.ERROR_RATE, 10.0, 5.0, AlertLevel.ERROR, 15.0),
    ThresholdRule("agent_offline", RuleMetric.AGENT_OFFLINE, 1.0, 1.0, AlertLevel.ERROR),
    ThresholdRule("upstream_unhealthy", RuleMetric.UPSTREAM_UNHEALTHY, 1.0, 1.0, AlertLevel.ERROR),
    ThresholdRule(
        "system_cpu_high", RuleMetric.SYSTEM_CPU_USAGE, 90.0, 75.0, AlertLevel.WARNING, 30.0
    ),
    ThresholdRule(
        "memory_pressure", RuleMetric.SYSTEM_MEMORY_USAGE, 90.0, 80.0, AlertLevel.WARNING, 30.0
    ),
)


def rules_from_config(rules: Iterable[ThresholdRule | Mapping[str, Any]]) -> list[ThresholdRule]:
    """Rules from a list of :class:`ThresholdRule` objects or dicts of their fields."""
    if isinstance(rules, str | bytes | Mapping) or not isinstance(rules, Iterable):
        raise invalid_type("alert_rules", rules, "a list of ThresholdRule objects or dicts")
    return [r if isinstance(r, ThresholdRule) else ThresholdRule.from_mapping(r) for r in rules]


@dataclass
class _State:
    pending_since: float | None = None
    alert: Alert | None = None
    silenced: bool = False


#: Readings by metric, then by subject: ``{"cpu_usage": {"planner": 93.0}}``.
Readings = Mapping[str, Mapping[str, float]]


class RuleEngine:
    """Runs threshold rules over readings and raises or resolves alerts.

    Thread-safe: a round of :meth:`evaluate`, :meth:`add_rule` and :meth:`remove_rule` run
    one at a time (a rule removed from another thread waits for the round in progress). A
    rule callback or alert listener may add or remove rules during a round: a removed rule
    is not stepped again, even in that round.
    """

    def __init__(self, manager: AlertManager, rules: Iterable[ThresholdRule] = ()) -> None:
        self.manager = manager
        self._rules: dict[str, ThresholdRule] = {}
        self._states: dict[tuple[str, str], _State] = {}
        # Reentrant: callbacks run inside a round, on its thread, and may change the rules.
        self._lock = threading.RLock()
        for rule in rules:
            self.add_rule(rule)

    @property
    def rules(self) -> list[ThresholdRule]:
        return list(self._rules.values())

    def add_rule(self, rule: ThresholdRule | Mapping[str, Any]) -> ThresholdRule:
        """Add a rule (or a dict of its fields). Raises if the name is taken."""
        if not isinstance(rule, ThresholdRule):
            rule = ThresholdRule.from_mapping(rule)
        with self._lock:
            if rule.name in self._rules:
                raise invalid_value("rule.name", rule.name, "a name no other rule has")
            self._rules[rule.name] = rule
        return rule

    def remove_rule(self, name: str) -> None:
        """Forget a rule; its open alerts stay until resolved."""
        with self._lock:
            self._rules.pop(name, None)
            self._states = {k: s for k, s in self._states.items() if k[0] != name}

    def evaluate(self, readings: Readings, agents: Iterable[str] = ()) -> None:
        """Step every rule with one round of readings.

        ``agents`` are subjects that are agents (their alerts carry ``agent_id``).
        """
        agent_ids = set(agents)
        # How long a breach has held is an interval: the monotonic clock, so that a wall
        # clock stepped back (NTP) does not hold an alert back, nor a step forward skip it.
        now = self.manager.monotonic()
        with self._lock:
            for rule in list(self._rules.values()):
                values = readings.get(str(rule.metric), {})
                known = {subject for name, subject in self._states if name == rule.name}
                for subject in sorted(known | set(values)):
                    if self._rules.get(rule.name) is not rule:
                        break  # removed (or replaced) by a callback during this round
                    key = (rule.name, subject)
                    state = self._states.setdefault(key, _State())
                    agent_id = subject if subject in agent_ids else None
                    self._step(rule, subject, agent_id, state, values.get(subject), now)
                    idle = state.pending_since is None and not state.silenced
                    if state.alert is None and idle and self._states.get(key) is state:
                        del self._states[key]

    def _step(
        self,
        rule: ThresholdRule,
        subject: str,
        agent_id: str | None,
        state: _State,
        value: float | None,
        now: float,
    ) -> None:
        if state.alert is not None and not state.alert.active:
            state.alert, state.silenced = None, True  # resolved by someone: wait for a clear
        breached = value is not None and rule.breached(value)
        if value is None or rule.cleared(value):
            state.pending_since, state.silenced = None, False
            if state.alert is not None:
                alert, state.alert = state.alert, None
                self.manager.resolve(alert.alert_id, by="rule")
                self._call(rule.on_clear, alert, rule, "on_clear")
            return
        if state.alert is not None or state.silenced or not breached:
            if state.alert is not None and value is not None:
                state.alert.context["last_value"] = value
            if not breached:
                state.pending_since = None
            return
        assert value is not None
        if state.pending_since is None:
            state.pending_since = now
        if now - state.pending_since < rule.for_seconds:
            return
        context = {
            "metric": str(rule.metric),
            "subject": subject,
            "value": value,
            "threshold": rule.raise_at,
            "clear_at": rule.clear_at,
        }
        message = rule.message.format(
            rule=rule.name,
            metric=rule.metric,
            subject=subject,
            value=value,
            threshold=rule.raise_at,
        )
        state.alert = self.manager.raise_alert(
            rule.level,
            message,
            str(rule.source),
            context,
            agent_id=agent_id,
            rule=rule.name,
            subject=subject,
        )
        self._call(rule.on_alert, state.alert, rule, "on_alert")

    def _call(
        self, callback: RuleCallback | None, alert: Alert, rule: ThresholdRule, what: str
    ) -> None:
        if callback is not None:
            self.manager.call_failsafe(callback, alert, f"rule {rule.name!r} {what} callback")
