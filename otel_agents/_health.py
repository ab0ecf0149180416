"""The 0-100 health score, for the system and for each agent, as a documented formula.

The score starts at 100 and loses points in four independent parts, each capped, then is
clamped to 0-100 and rounded to one decimal::

    resources    = sum over CPU % and memory % of  resource_weight * max(0, usage - resource_start)
                   (default: 0.4 point per percent above 50 %, so at most 20 each)
    alerts       = min(alert_cap, sum of alert_points[level] over active alerts)
                   (default: info 0, warning 5, error 10, critical 20; at most 40)
    availability = availability_weight * (1 - available / total)   (only when total > 0)
                   (default 30; available agents are online or busy)
    errors       = min(error_cap, error_weight * error rate %)
                   (default: 1 point per percent, at most 20)
    score        = clamp(100 - resources - alerts - availability - errors, 0, 100)

An input that is unknown (``None``: no CPU reading, no agent manager, no requests yet) costs
nothing. For one agent the inputs are its latest tracked CPU %, the active alerts about it,
its own status (total 1, available 0 or 1) and its error rate; memory is tracked in bytes per
agent, so it counts only at the system level, as a percentage of the machine's memory.

:class:`HealthReporter` reports scores as the ``agent.health.score`` observable gauge,
``agent.health.scope`` = ``system``, or ``agent`` with ``gen_ai.agent.id``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import Observation

from otel_agents import semconv
from otel_agents._alert_record import AlertLevel
from otel_agents._errors import invalid_type, invalid_value
from otel_agents._numbers import is_real
from otel_agents._observers import observe
from otel_agents._version import scope_name

__all__ = ["HealthInputs", "HealthReporter", "HealthScore", "HealthWeights", "health_score"]


def _percent(value: float) -> float:
    # Not a finite number (NaN, a string from a user's reader): unknown, so it costs nothing.
    if not is_real(value):
        return 0.0
    return min(100.0, max(0.0, float(value)))


def _non_negative(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise invalid_value(name, value, "a number of 0 or more")


def _weight(name: str, value: Any) -> None:
    # A weight multiplies an input that is often 0 (no alert of a level, a 0 % error rate,
    # CPU below resource_start): inf * 0 is NaN, which scored a healthy input 0 or cost it
    # the whole cap. Caps and the start are only compared, so infinity means "no cap" there.
    if not is_real(value) or value < 0:
        raise invalid_value(name, value, "a finite number of 0 or more")


def _default_alert_points() -> dict[str, float]:
    return {"info": 0.0, "warning": 5.0, "error": 10.0, "critical": 20.0}


@dataclass(frozen=True)
class HealthWeights:
    """The constants of the formula (see the module docstring).

    Weights (``resource_weight``, ``availability_weight``, ``error_weight`` and the
    ``alert_points``) are finite numbers of 0 or more; ``resource_start`` and the caps may
    be infinite (no resource penalty, no cap).

    Raises:
        InvalidValueError: a negative or non-numeric constant, an infinite weight, or an
            ``alert_points`` key that is not an alert level.
        InvalidTypeError: ``alert_points`` that is not a mapping.
    """

    resource_start: float = 50.0
    resource_weight: float = 0.4
    alert_points: Mapping[str, float] = field(default_factory=_default_alert_points)
    alert_cap: float = 40.0
    availability_weight: float = 30.0
    error_weight: float = 1.0
    error_cap: float = 20.0

    def __post_init__(self) -> None:
        for name in ("resource_start", "alert_cap", "error_cap"):
            _non_negative(name, getattr(self, name))
        for name in ("resource_weight", "availability_weight", "error_weight"):
            _weight(name, getattr(self, name))
        if not isinstance(self.alert_points, Mapping):
            raise invalid_type(
                "alert_points",
                self.alert_points,
                "a mapping of alert level to points, such as {'warning': 5.0, 'error': 10.0}",
            )
        for level, points in self.alert_points.items():
            if level not in {lvl.value for lvl in AlertLevel}:
                raise invalid_value(
                    "alert_points", level, "alert levels as keys", [lvl.value for lvl in AlertLevel]
                )
            _weight(f"alert_points[{level!r}]", points)


@dataclass(frozen=True)
class HealthInputs:
    """What a score is computed from. ``None`` means unknown and costs nothing.

    Attributes:
        cpu_percent: CPU in use, 0-100.
        memory_percent: memory in use, 0-100.
        alerts: active alerts by level value (``{"warning": 2}``).
        agents_total: agents whose status is known.
        agents_available: of those, how many are online or busy.
        error_rate_percent: failed operations, 0-100.
    """

    cpu_percent: float | None = None
    memory_percent: float | None = None
    alerts: Mapping[str, int] = field(default_factory=dict)
    agents_total: int = 0
    agents_available: int = 0
    error_rate_percent: float | None = None


@dataclass(frozen=True)
class HealthScore:
    """A score and the points each part of the formula took off."""

    score: float
    resources: float
    alerts: float
    availability: float
    errors: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "penalties": {
                "resources": self.resources,
                "alerts": self.alerts,
                "availability": self.availability,
                "errors": self.errors,
            },
        }


DEFAULT_WEIGHTS = HealthWeights()


def health_score(inputs: HealthInputs, weights: HealthWeights = DEFAULT_WEIGHTS) -> HealthScore:
    """Compute the 0-100 score of ``inputs`` by the documented formula."""
    resources = sum(
        weights.resource_weight * max(0.0, _percent(usage) - weights.resource_start)
        for usage in (inputs.cpu_percent, inputs.memory_percent)
        if usage is not None
    )
    alerts = min(
        weights.alert_cap,
        sum(weights.alert_points.get(level, 0.0) * n for level, n in inputs.alerts.items()),
    )
    availability = 0.0
    if inputs.agents_total > 0:
        available = min(max(inputs.agents_available, 0), inputs.agents_total)
        availability = weights.availability_weight * (1 - available / inputs.agents_total)
    errors = 0.0
    if inputs.error_rate_percent is not None:
        errors = min(weights.error_cap, weights.error_weight * _percent(inputs.error_rate_percent))
    raw = 100.0 - resources - alerts - availability - errors
    return HealthScore(
        round(min(100.0, max(0.0, raw)), 1),
        round(resources, 3),
        round(alerts, 3),
        round(availability, 3),
        round(errors, 3),
    )


class HealthReporter:
    """Reports health scores as the ``agent.health.score`` observable gauge.

    Args:
        scores: returns the latest ``(system score, {agent id: score})``; called at each
            collection, so it should return cached numbers rather than compute them.
        meter_provider: defaults to the global one.
    """

    def __init__(
        self,
        scores: Callable[[], tuple[float | None, Mapping[str, float]]],
        *,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._scores = scores
        # Shared with every other reporter on this provider and held weakly (see _observers):
        # keep the reporter as long as it should report.
        observe(
            meter_provider,
            scope_name(__name__),
            semconv.AGENT_HEALTH_SCORE,
            self,
            HealthReporter._observe,
        )

    def _observe(self) -> Iterable[Observation]:
        system, agents = self._scores()
        if system is not None:
            yield Observation(system, {semconv.HEALTH_SCOPE: semconv.HEALTH_SCOPE_SYSTEM})
        for agent_id, score in sorted(agents.items()):
            yield Observation(
                score,
                {
                    semconv.HEALTH_SCOPE: semconv.HEALTH_SCOPE_AGENT,
                    semconv.GEN_AI_AGENT_ID: agent_id,
                },
            )
