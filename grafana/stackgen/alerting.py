"""What an alert rule is: its PromQL, hold time, labels, annotations and promtool cases.

Every rule carries two labels a person (and Alertmanager's routing) needs: ``severity``
(``warning`` or ``critical``) and ``service``, the part of the stack it is about
(alertmanager/alertmanager.yml groups by both). A rule whose expression yields ``service``
itself (one alert per stopped service) leaves :attr:`AlertRule.service` empty. Its
annotations are ``summary``, ``description`` and ``runbook_url``, the rule's section of
docs/runbook.md (:mod:`.runbook` writes it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_RUNBOOK",
    "EVAL_TIME",
    "SERIES_STEPS",
    "AlertRule",
    "Case",
    "growing",
    "runbook_anchor",
    "steady",
    "template",
]

#: Where ``runbook_url`` points by default: the runbook's path in this repository, which
#: renders on any Git host. ``grafana/generate.py --runbook-url URL`` writes an absolute URL
#: instead (where your copy of the repository, or of the runbook, is served).
DEFAULT_RUNBOOK = "docs/runbook.md"
#: Time of every promtool evaluation: past every rule's hold time and rate window.
EVAL_TIME = "12m"
SERIES_STEPS = "x15"  # 16 samples, one a minute: covers EVAL_TIME
_TEMPLATE = re.compile(r"{{ \$labels\.([a-zA-Z0-9_]+) }}")


@dataclass(frozen=True)
class Case:
    """Input series for promtool (``{selector: values}``) and the labels the alert then has,
    at each of ``eval_times`` (a case can prove an alert still fires later on)."""

    series: dict[str, str]
    alert_labels: dict[str, str] | None = None  # None: the rule stays quiet
    eval_times: tuple[str, ...] = (EVAL_TIME,)
    #: What the case proves, beyond "fires" / "stays quiet" (the promtool test's name).
    name: str = ""


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule and its promtool cases: one firing, one quiet, and any ``more``."""

    name: str
    expr: str
    hold: str
    severity: str
    summary: str
    description: str
    fires: Case
    quiet: Case
    service: str = ""  # empty: the expression sets the `service` label
    labels: dict[str, str] = field(default_factory=dict)
    #: Further cases (firing or quiet), each with its :attr:`Case.name`.
    more: tuple[Case, ...] = ()

    def static_labels(self) -> dict[str, str]:
        """The labels the rule file gives every alert of this rule."""
        service = {"service": self.service} if self.service else {}
        return {"severity": self.severity, **service, **self.labels}

    def annotations(
        self, alert_labels: dict[str, str] | None = None, *, runbook: str = DEFAULT_RUNBOOK
    ) -> dict[str, str]:
        """The annotations, rendered with ``alert_labels`` when given (as Prometheus does)."""
        raw = {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": f"{runbook}#{runbook_anchor(self.name)}",
        }
        if alert_labels is None:
            return raw
        return {
            key: _TEMPLATE.sub(lambda m: alert_labels.get(m.group(1), ""), text)
            for key, text in raw.items()
        }


def runbook_anchor(alert: str) -> str:
    """The anchor Git hosts give the runbook heading ``## <alert>`` (lower case)."""
    return alert.lower()


def template(name: str) -> str:
    """A ``$labels`` template for the label ``name``."""
    return f"{{{{ $labels.{name} }}}}"


def steady(value: float) -> str:
    return f"{value:g}{SERIES_STEPS}"


def growing(per_minute: float) -> str:
    return f"0+{per_minute:g}{SERIES_STEPS}"
