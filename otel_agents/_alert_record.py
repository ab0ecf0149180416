"""What an alert is: its four levels and the :class:`Alert` record.

Split from :mod:`otel_agents._alerts`, which owns alerts over time (raising, repeats,
reopening, resolution, listeners and telemetry): the levels and the record are plain data
that the rules (:mod:`otel_agents._alert_rules`), the health score (:mod:`otel_agents._health`),
the dashboard and the telemetry read without needing the manager. A level maps to an
OpenTelemetry log severity and a rank; :func:`coerce_level` accepts a member, its value or its
name, the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from opentelemetry._logs import SeverityNumber

from otel_agents._errors import invalid_type, invalid_value

__all__ = ["LEVEL_CHOICES", "Alert", "AlertLevel", "coerce_level"]


class AlertLevel(StrEnum):
    """How serious an alert is. Pass a member or its value (``"warning"``)."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def severity(self) -> SeverityNumber:
        """The OpenTelemetry log severity of an alert at this level."""
        return _SEVERITIES[self]

    @property
    def rank(self) -> int:
        """0 for info up to 3 for critical."""
        return _RANKS[self]


_SEVERITIES = {
    AlertLevel.INFO: SeverityNumber.INFO,
    AlertLevel.WARNING: SeverityNumber.WARN,
    AlertLevel.ERROR: SeverityNumber.ERROR,
    AlertLevel.CRITICAL: SeverityNumber.FATAL,
}
_RANKS = {level: rank for rank, level in enumerate(AlertLevel)}
LEVEL_CHOICES = [level.value for level in AlertLevel]


def coerce_level(level: object, parameter: str = "level") -> AlertLevel:
    """``level`` as an :class:`AlertLevel`, from a member, its value or its name."""
    if isinstance(level, AlertLevel):
        return level
    if isinstance(level, str):
        try:
            return AlertLevel(level.strip().lower())
        except ValueError:
            pass
        raise invalid_value(parameter, level, "an AlertLevel", LEVEL_CHOICES)
    raise invalid_type(parameter, level, "an AlertLevel or its name", LEVEL_CHOICES)


@dataclass(eq=False)
class Alert:
    """One alert. Times are Unix seconds; ``count`` is how often it was raised while open."""

    alert_id: str
    level: AlertLevel
    message: str
    source: str
    context: dict[str, Any]
    created_at: float
    last_seen_at: float
    agent_id: str | None = None
    rule: str | None = None
    count: int = 1
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    _key: tuple[str, ...] = field(default=(), repr=False)
    #: When it was resolved on the manager's monotonic clock (the reopen window's start).
    _resolved_monotonic: float | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.alert_id

    @property
    def active(self) -> bool:
        return self.resolved_at is None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "level": self.level.value,
            "message": self.message,
            "source": self.source,
            "context": self.context,
            "agent_id": self.agent_id,
            "rule": self.rule,
            "count": self.count,
            "created_at": self.created_at,
            "last_seen_at": self.last_seen_at,
            "acknowledged": self.acknowledged,
            "acknowledged_at": self.acknowledged_at,
            "active": self.active,
            "resolved_at": self.resolved_at,
            "resolved_by": self.resolved_by,
        }
